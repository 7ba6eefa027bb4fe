"""Settings: one file, every value overridable by an environment variable.

The defaults are the embedded ones `make run` uses (SQLite under var/, a Celery broker on the
filesystem under var/): a fresh clone runs with no servers. Production points DATABASE_URL at
PostgreSQL and CELERY_BROKER_URL at Redis (see docker-compose.yml and README.md "Settings").
"""

from __future__ import annotations

import os
from datetime import timedelta
from ipaddress import ip_network
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from kamen_complaints.deployment import DEVELOPMENT_SECRETS
from kamen_complaints.error_reporting import init_sentry
from kamen_complaints.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("KAMEN_VAR_DIR", BASE_DIR / "var"))

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# "development" accepts the embedded secrets below (the Makefile and the tests set it); unset
# or "production", any of them stops every process at start (kamen_complaints/deployment.py,
# docs/security/secrets-and-deploy.md).
KAMEN_ENV = env.str("KAMEN_ENV", default="production")
# The embedded default keys are public: development only.
SECRET_KEY = env.str("SECRET_KEY", default=DEVELOPMENT_SECRETS["SECRET_KEY"])
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    # API tokens, stored as digests, expiring (accounts/tokens.py). Before accounts, whose
    # admin.py replaces knox's token admin.
    "knox",
    # The merchant API keys' base model and hashing (merchant/api_keys.py; its own table stays
    # empty: the shop's keys are merchant.MerchantAPIKey).
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    # Two-step login (TOTP and one-time recovery codes; accounts/twostep.py).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "kamen_complaints",
    "orders",
    "escrow",
    # Webhooks and group robots for shops and staff, below the complaints app that emits the
    # events (docs/integrations.md).
    "integrations",
    "disputes",
    # The merchant dashboard, above the domain apps (docs/architecture.md).
    "merchant",
    # Registration, login pages and API, lockout, tokens; above the domain apps.
    "accounts",
]

MIDDLEWARE = [
    # Request counts and latencies for /metrics (django-prometheus: this pair brackets the rest).
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # The request id every log line and enqueued task carries (kamen_complaints/request_context.py).
    "kamen_complaints.request_context.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "kamen_complaints.middleware.RequestTooLargeMiddleware",
    "kamen_complaints.middleware.NulInQueryMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(), then the account gate: a password to set, a second step to
    # pass (accounts/middleware.py).
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.AccountGateMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "kamen_complaints.urls"
WSGI_APPLICATION = "kamen_complaints.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
# SQLite in WAL mode with IMMEDIATE transactions and a busy timeout, because web, worker and
# beat write at once: a deferred transaction that later upgrades to a write lock fails with
# "database is locked" instead of waiting.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            ),
        }
    )
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    # PostgreSQL's JIT compiler off (POSTGRES_JIT=true keeps it): it fires only on queries the
    # planner costs above jit_above_cost — here the metrics' aggregates over every complaint —
    # and compiling took 0.9 s of each 2 s query at 200,000 complaints while saving almost
    # nothing (docs/benchmarks.md, `admin`). A pooler must pass the `options` parameter on
    # (pgbouncer: ignore_startup_parameters = options), or set jit = off on the database.
    if not env.bool("POSTGRES_JIT", default=False):
        options = DATABASES["default"].setdefault("OPTIONS", {})
        options["options"] = f"{options.get('options', '')} -c jit=off".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USING_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")
# django-prometheus's backends: Django's own (same OPTIONS, psycopg2, vendor) with each query
# counted and timed for /metrics. METRICS_DB_WRAPPER=false keeps Django's engine.
_METRICS_ENGINES = {
    "django.db.backends.postgresql": "django_prometheus.db.backends.postgresql",
    "django.db.backends.sqlite3": "django_prometheus.db.backends.sqlite3",
}
if env.bool("METRICS_DB_WRAPPER", default=True):
    _engine = DATABASES["default"]["ENGINE"]
    DATABASES["default"]["ENGINE"] = _METRICS_ENGINES.get(_engine, _engine)

CACHES = {
    "default": env.cache("CACHE_URL", default="locmemcache://kamen-complaints"),
}
# Redis as the cache: a backend that answers as an empty cache while Redis is down (reads
# miss, writes dropped, throttles fail open: kamen_complaints/cache.py), with short socket
# timeouts so a dead or hung Redis costs a page a fraction of a second once, not seconds each
# call (README "Operating": when something fails). Not shorter: on a busy node a read that
# times out is a throttle that fails open for a second.
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    CACHES["default"]["BACKEND"] = "kamen_complaints.cache.DegradingRedisCache"
    CACHES["default"].setdefault("OPTIONS", {}).update(
        {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
    )

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "orders:catalogue"
LOGOUT_REDIRECT_URL = "orders:catalogue"
# A password-reset link works once and for this many seconds (docs/security/authentication.md).
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3600)
# Reset e-mails one address can be sent per hour, whoever asks (accounts/views.py).
PASSWORD_RESET_PER_EMAIL_PER_HOUR = env.int("PASSWORD_RESET_PER_EMAIL_PER_HOUR", default=3)
# Two-step login (TOTP) for every staff account: on unless KAMEN_ENV=development, where
# `make run` leaves it off (README "Accounts and security"); STAFF_REQUIRE_2FA=true turns it on.
STAFF_REQUIRE_2FA = env.bool("STAFF_REQUIRE_2FA", default=KAMEN_ENV != "development")
OTP_TOTP_ISSUER = "Kamen Complaints"

# --- Language and time --------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files ------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Evidence files are private: MEDIA_ROOT is never served by URL, only through views that
# check who asks. S3-compatible storage plugs in here (README "Scaling out").
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env.str(
            "STATICFILES_STORAGE",
            default="whitenoise.storage.CompressedStaticFilesStorage",
        )
    },
}
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# A whole request body (evidence files included) above this answers 413 in JSON.
MAX_REQUEST_BODY_SIZE = env.int("MAX_REQUEST_BODY_SIZE", default=25 * 1024 * 1024)

# --- Secrets at rest ----------------------------------------------------------------------
# CARD_KEY_KEYS: comma-separated Fernet keys, newest first. Encryption uses the first; all are
# tried for decryption (MultiFernet), so a key is rotated by prepending a new one, running
# `manage.py rotate_card_keys`, then dropping the old one. The default is for development only.
CARD_KEY_KEYS = env.list("CARD_KEY_KEYS", default=[DEVELOPMENT_SECRETS["CARD_KEY_KEYS"]])
# HMAC key for card-key and identity fingerprints (duplicate detection without decrypting).
# Changing it invalidates duplicate detection for existing keys; it is not rotated.
FINGERPRINT_KEY = env.str("FINGERPRINT_KEY", default=DEVELOPMENT_SECRETS["FINGERPRINT_KEY"])
# Ed25519 key that signs evidence packages (base64 of the 32-byte raw private key). The
# default is for development only: production sets its own, publishes the public half
# (`manage.py package_public_key`) and keeps the old public key to verify older packages.
# New key: python -c "import base64,os;print(base64.b64encode(os.urandom(32)).decode())"
PACKAGE_SIGNING_KEY = env.str(
    "PACKAGE_SIGNING_KEY", default=DEVELOPMENT_SECRETS["PACKAGE_SIGNING_KEY"]
)
# HMAC key that authenticates every backup's manifest (kamen_complaints/backups.py): never in
# a backup, so an archive edited together with its hashes is refused by `manage.py restore`.
# Keep it with the backups' other keys; the default is for development only.
BACKUP_SIGNING_KEY = env.str(
    "BACKUP_SIGNING_KEY", default=DEVELOPMENT_SECRETS["BACKUP_SIGNING_KEY"]
)

# --- Logins -------------------------------------------------------------------------------
# Reverse proxies in front of the app that append to X-Forwarded-For. 0: clients connect
# directly and X-Forwarded-For is ignored (anyone can write it); 1: behind one TLS proxy
# (BEHIND_TLS_PROXY), the client is the address that proxy appended. Never more than the
# proxies really there, or a client chooses its own address.
BEHIND_TLS_PROXY = env.bool("BEHIND_TLS_PROXY", default=False)
NUM_PROXIES = env.int("NUM_PROXIES", default=1 if BEHIND_TLS_PROXY else 0)
# Per-account lockout (accounts/logins.py, docs/security/authentication.md): a username
# is locked from one address after LOGIN_FAILURES_PER_ACCOUNT_IP failed passwords, from
# everywhere after LOGIN_FAILURES_PER_ACCOUNT, for LOGIN_LOCKOUT_MINUTES.
LOGIN_FAILURES_PER_ACCOUNT_IP = env.int("LOGIN_FAILURES_PER_ACCOUNT_IP", default=5)
LOGIN_FAILURES_PER_ACCOUNT = env.int("LOGIN_FAILURES_PER_ACCOUNT", default=20)
LOGIN_LOCKOUT_MINUTES = env.int("LOGIN_LOCKOUT_MINUTES", default=15)

# --- REST API -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "knox.auth.TokenAuthentication",
        # `Authorization: Api-Key <key>`: a shop's key, reaching only the views that declare
        # the scope it needs (`key_scope`), default-deny (docs/api-keys.md).
        "merchant.api_keys.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "merchant.api_keys.HasKeyScope",
    ],
    "DEFAULT_PAGINATION_CLASS": "kamen_complaints.api.PageNumberPagination",
    "PAGE_SIZE": 20,
    # django-filter, refusing empty filter values (`?status=`) with a 400.
    "DEFAULT_FILTER_BACKENDS": ["kamen_complaints.api.FilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "kamen_complaints.api.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    # DRF's parsers, refusing text that is not valid Unicode (docs/security/hostile-input.md).
    "DEFAULT_PARSER_CLASSES": [
        "kamen_complaints.parsers.JSONParser",
        "kamen_complaints.parsers.FormParser",
        "kamen_complaints.parsers.MultiPartParser",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "login_user": env.str("THROTTLE_LOGIN_USER", default="10/min"),
        "login_ip": env.str("THROTTLE_LOGIN_IP", default="30/min"),
        "password_reset_user": env.str("THROTTLE_PASSWORD_RESET_USER", default="5/hour"),
        "password_reset_ip": env.str("THROTTLE_PASSWORD_RESET_IP", default="20/hour"),
        "reveal_user": env.str("THROTTLE_REVEAL_USER", default="20/min"),
        "reveal_ip": env.str("THROTTLE_REVEAL_IP", default="60/min"),
        "filing_user": env.str("THROTTLE_FILING_USER", default="10/hour"),
        "filing_ip": env.str("THROTTLE_FILING_IP", default="30/hour"),
        # Filing counts accepted complaints only; every attempt (a refused one too, each
        # decoding images) is capped by this looser limit (disputes/api/, disputes/views/).
        "filing_attempt_user": env.str("THROTTLE_FILING_ATTEMPT_USER", default="60/hour"),
        "filing_attempt_ip": env.str("THROTTLE_FILING_ATTEMPT_IP", default="120/hour"),
        # Evidence uploads after filing (API and pages): each one is decoded and re-encoded.
        "evidence_user": env.str("THROTTLE_EVIDENCE_USER", default="60/hour"),
        "evidence_ip": env.str("THROTTLE_EVIDENCE_IP", default="120/hour"),
        # Card-key imports: each report tells whether a key is already on the platform.
        "import_user": env.str("THROTTLE_IMPORT_USER", default="20/hour"),
        "import_ip": env.str("THROTTLE_IMPORT_IP", default="60/hour"),
    },
    "DATETIME_FORMAT": "iso-8601",
    "COERCE_DECIMAL_TO_STRING": True,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # The client address the throttles (and the login lockout) count: see NUM_PROXIES above.
    "NUM_PROXIES": NUM_PROXIES,
}
# API tokens (django-rest-knox): `Authorization: Token <key>`, valid TOKEN_TTL_HOURS from
# issue (no sliding renewal); logout and a password change revoke them.
TOKEN_TTL_HOURS = env.int("TOKEN_TTL_HOURS", default=24 * 7)
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=TOKEN_TTL_HOURS),
    "AUTO_REFRESH": False,
    "AUTH_HEADER_PREFIX": "Token",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Kamen Complaints API",
    "DESCRIPTION": "Complaints for card marketplaces: orders, card keys, deposits, disputes.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI served from our own static files: no CDN (the machines here have no internet).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # One schema name per choice set (several serializers share them).
    "ENUM_NAME_OVERRIDES": {
        "ProductKindEnum": "orders.models.ProductKind",
        "EvidenceKindEnum": "disputes.models.EvidenceKind",
        # What a buyer or merchant may upload: every kind but the platform's own record.
        "UploadableEvidenceKindEnum": "disputes.models.UPLOADABLE_EVIDENCE",
        "PartyEnum": "disputes.models.Party",
        "RemedyEnum": "disputes.models.REMEDIES",
        "TransactionKindEnum": "escrow.models.TransactionKind",
        "ComplaintStatusEnum": "disputes.models.Status",
        "OrderStatusEnum": "orders.models.OrderStatus",
    },
    # OpenAPI links from a list or a creation to the actions on its items (kamen_complaints/
    # schema.py): how a schema fuzzer reaches a real complaint's actions.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "kamen_complaints.schema.add_links",
    ],
}

# --- Celery -------------------------------------------------------------------------------
# Embedded default: kombu's filesystem transport under var/celery (no server). Production:
# redis://. No result backend: tasks write their results to the database.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://localhost/")
CELERY_BROKER_IS_FILESYSTEM = CELERY_BROKER_URL.startswith("filesystem")
_celery_fs = VAR_DIR / "celery"
REDIS_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
    # Longer than the longest task time limit, so a task still running is not
    # re-delivered to a second worker (Celery's Redis caveats). No ETA tasks are used.
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    # A dead Redis must not hang a web request: fail fast, log, let the sweep catch up.
    # A refused connection fails at once; an unreachable host costs the connect timeout,
    # a Redis that accepts and never answers the socket timeout — each at most twice (the
    # publish retry policy below), so < 2 s; disputes' publish() then leaves the broker
    # alone for 30 s. (The worker's BRPOP waits on the event loop, not on this timeout.)
    "socket_connect_timeout": env.float("CELERY_BROKER_CONNECT_TIMEOUT", default=0.5),
    "socket_timeout": env.float("CELERY_BROKER_SOCKET_TIMEOUT", default=0.75),
    "max_retries": 1,
}
if CELERY_BROKER_IS_FILESYSTEM:
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(_celery_fs / "queue"),
        "data_folder_out": str(_celery_fs / "queue"),
        "processed_folder": str(_celery_fs / "processed"),
        # kombu ≥ 5.3 keeps broadcast/control messages here; the default is ./control (cwd).
        "control_folder": str(_celery_fs / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = dict(REDIS_BROKER_TRANSPORT_OPTIONS)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# Every task is sent at priority 5 and the clock's sweeps at 0, which Redis hands out first
# (kombu keeps one list per priority step and pops the lowest number first): a backlog of
# notifications or checks never holds a sweep back past its `expires` (dropped, with the next
# one behind the same backlog — `make faults` saw the clock stop for minutes), it waits only
# for a free worker process (docs/load.md "Faults").
CELERY_TASK_DEFAULT_PRIORITY = 5
CLOCK_PRIORITY = 0
# The worker logs through LOGGING below (JSON lines with the request id), not Celery's format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
SWEEP_INTERVAL_SECONDS = env.int("SWEEP_INTERVAL_SECONDS", default=60)
# The metrics' rollup (docs/metrics.md): how often beat runs it, and how far before a run's
# start changes are still looked for — the longest a transaction may take from writing a
# complaint's change to committing it.
METRICS_ROLLUP_MINUTES = env.int("METRICS_ROLLUP_MINUTES", default=5)
METRICS_ROLLUP_OVERLAP_SECONDS = env.int("METRICS_ROLLUP_OVERLAP_SECONDS", default=300)
# The deadline sweep: complaints per batch (one transaction each), and a time budget under the
# soft time limit, so a long backlog is worked off over several sweeps instead of killed.
SWEEP_BATCH_SIZE = env.int("SWEEP_BATCH_SIZE", default=100)
SWEEP_MAX_SECONDS = env.int("SWEEP_MAX_SECONDS", default=max(CELERY_TASK_SOFT_TIME_LIMIT - 30, 10))
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # The clock (README "The clock"): every due deadline, reminder and undelivered message.
    # A sweep not started within one interval is dropped (`expires`): the next one does its work.
    "disputes-deadlines-sweep": {
        "task": "disputes.tasks.deadlines_sweep",
        "schedule": timedelta(seconds=SWEEP_INTERVAL_SECONDS),
        # `expire_seconds` for django-celery-beat's DatabaseScheduler, `expires` for Celery's own.
        "options": {
            "expires": SWEEP_INTERVAL_SECONDS,
            "expire_seconds": SWEEP_INTERVAL_SECONDS,
            "priority": CLOCK_PRIORITY,
        },
    },
    "orders-sweep": {
        "task": "orders.tasks.orders_sweep",
        "schedule": timedelta(seconds=SWEEP_INTERVAL_SECONDS),
    },
    "escrow-payouts-sweep": {
        "task": "escrow.tasks.payouts_sweep",
        "schedule": timedelta(seconds=SWEEP_INTERVAL_SECONDS),
        "options": {"priority": CLOCK_PRIORITY},
    },
    # Webhook and robot deliveries due (retries, and new ones the broker lost): a beat entry of
    # its own, so a slow receiver never holds up the deadlines (docs/integrations.md).
    "integrations-deliveries-sweep": {
        "task": "integrations.tasks.deliveries_sweep",
        "schedule": timedelta(seconds=SWEEP_INTERVAL_SECONDS),
        "options": {"expires": SWEEP_INTERVAL_SECONDS, "expire_seconds": SWEEP_INTERVAL_SECONDS},
    },
    # Each shop's daily digest of open complaints (disputes/services/reminders.py): sent by the
    # first run at or after 10:00 Asia/Shanghai (CELERY_TIMEZONE); the later hourly runs catch
    # up a missed one and otherwise find the day taken.
    "disputes-daily-digest": {
        "task": "disputes.tasks.shops_send_digest",
        "schedule": crontab(minute=0, hour="10-23"),
    },
    # The metrics' daily figures (docs/metrics.md): the days not rolled up yet (today so far
    # included) and those changed since the last run, every few minutes, so a read computes
    # live only what changed since; a run still going when the next is due makes it a no-op.
    "disputes-metrics-rollup": {
        "task": "disputes.tasks.metrics_rollup",
        "schedule": timedelta(minutes=METRICS_ROLLUP_MINUTES),
        "options": {"expires": METRICS_ROLLUP_MINUTES * 60},
    },
    # Complaint-form drafts a buyer left behind (disputes/drafts.py): deleted after 24 h.
    "disputes-drafts-purge": {
        "task": "disputes.tasks.complaint_drafts_purge",
        "schedule": timedelta(hours=1),
    },
    # Yesterday's bills of Alipay and WeChat Pay against the ledger (docs/reconciliation.md):
    # both publish them by 10:00; the run of 10:30 and the catch-up of 14:30 replace each
    # other's rows (one run per channel and day).
    "escrow-reconcile": {
        "task": "escrow.tasks.reconcile_yesterday",
        "schedule": crontab(minute=30, hour="10,14"),
    },
}

# --- Payments -----------------------------------------------------------------------------
# The real payment channels (docs/payments.md): "alipay", "wechatpay" or both, each configured
# below. With none, the sandbox is the payment provider; naming a channel turns the sandbox off
# unless PAYMENT_PROVIDER names it explicitly.
PAYMENT_CHANNELS = env.list("PAYMENT_CHANNELS", default=[])
PAYMENT_PROVIDER = env.str(
    "PAYMENT_PROVIDER", default="" if PAYMENT_CHANNELS else "orders.payments.SandboxProvider"
)
# Outside development the sandbox provider, top-up upstream and card-key verifier are a system
# check error (orders/checks.py) unless this says the deployment is a demo.
KAMEN_DEMO_DEPLOYMENT = env.bool("KAMEN_DEMO_DEPLOYMENT", default=False)
# Seconds one call to a payment channel may take before it counts as failed (then retried).
PAYMENT_HTTP_TIMEOUT_SECONDS = env.float("PAYMENT_HTTP_TIMEOUT_SECONDS", default=10.0)
# The public https address the channels post their notices to (…/api/v1/payments/<channel>/
# notify/) and send the payer back to; SITE_URL when empty.
PAYMENT_NOTIFY_BASE_URL = env.str("PAYMENT_NOTIFY_BASE_URL", default="").rstrip("/")
# Alipay (open platform, RSA2 public-key mode): the app id, the app's private key and Alipay's
# public key as PEM files, never in the repository.
ALIPAY_APP_ID = env.str("ALIPAY_APP_ID", default="")
ALIPAY_APP_PRIVATE_KEY_FILE = env.str("ALIPAY_APP_PRIVATE_KEY_FILE", default="")
ALIPAY_PUBLIC_KEY_FILE = env.str("ALIPAY_PUBLIC_KEY_FILE", default="")
ALIPAY_GATEWAY = env.str("ALIPAY_GATEWAY", default="https://openapi.alipay.com/gateway.do")
# WeChat Pay API v3: app id, merchant id, the merchant API certificate's private key (file) and
# serial number, the APIv3 key (in the environment or a file) and the directory of the
# platform certificates (PEM; new ones are downloaded into it when WeChat Pay rotates).
WECHATPAY_APP_ID = env.str("WECHATPAY_APP_ID", default="")
WECHATPAY_MCH_ID = env.str("WECHATPAY_MCH_ID", default="")
WECHATPAY_PRIVATE_KEY_FILE = env.str("WECHATPAY_PRIVATE_KEY_FILE", default="")
WECHATPAY_CERT_SERIAL_NO = env.str("WECHATPAY_CERT_SERIAL_NO", default="")
WECHATPAY_APIV3_KEY = env.str("WECHATPAY_APIV3_KEY", default="")
WECHATPAY_APIV3_KEY_FILE = env.str("WECHATPAY_APIV3_KEY_FILE", default="")
WECHATPAY_PLATFORM_CERT_DIR = env.str("WECHATPAY_PLATFORM_CERT_DIR", default="")
WECHATPAY_GATEWAY = env.str("WECHATPAY_GATEWAY", default="https://api.mch.weixin.qq.com")
TOPUP_UPSTREAM = env.str("TOPUP_UPSTREAM", default="orders.payments.SandboxTopupUpstream")
# Seconds the sandbox top-up upstream waits when asked to be slow (targets ending in 8888).
SANDBOX_TOPUP_SLOW_SECONDS = env.float("SANDBOX_TOPUP_SLOW_SECONDS", default=5.0)
# Automatic checks (docs/automatic-checks.md): the card issuer behind orders.verifiers, how
# long one upstream question may take, and how often a check is asked before staff take over.
CARD_KEY_VERIFIER = env.str("CARD_KEY_VERIFIER", default="orders.verifiers.SandboxCardKeyVerifier")
UPSTREAM_CHECK_TIMEOUT_SECONDS = env.float("UPSTREAM_CHECK_TIMEOUT_SECONDS", default=5.0)
AUTO_CHECK_MAX_ATTEMPTS = env.int("AUTO_CHECK_MAX_ATTEMPTS", default=10)
# Seconds every sandbox issuer answer takes (the benchmark's slow verifier).
SANDBOX_VERIFIER_DELAY_SECONDS = env.float("SANDBOX_VERIFIER_DELAY_SECONDS", default=0.0)
# The desk (docs/admin.md "Taking a case"): minutes a case an arbitrator took ("我来处理") stays
# theirs; then it counts as nobody's again.
CASE_TAKE_MINUTES = env.int("CASE_TAKE_MINUTES", default=120)
if CASE_TAKE_MINUTES < 1:
    raise ImproperlyConfigured("CASE_TAKE_MINUTES must be a whole number of minutes, 1 or more.")

# --- E-mail -------------------------------------------------------------------------------
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Kamen Complaints <noreply@localhost>")
# Where complaint notifications go (disputes/channels.py): in-app and e-mail; SMS or WeChat
# template messages are one more class with the same interface.
NOTIFICATION_CHANNELS = env.list(
    "NOTIFICATION_CHANNELS",
    default=[
        "disputes.channels.InAppChannel",
        "disputes.channels.EmailChannel",
        # Only a merchant's new complaint and last reminder, and a buyer's outcome, to a
        # verified phone (disputes/channels.py SmsChannel).
        "disputes.channels.SmsChannel",
    ],
)
# The site's address as e-mails link to it ("https://kamen.example"; empty: links are paths).
SITE_URL = env.str("SITE_URL", default="").rstrip("/")

# --- SMS (kamen_complaints/sms/, docs/sms.md) ---------------------------------------------
# "sandbox" (development): each message goes to the log and to var/sms/outbox.jsonl; "aliyun"
# or "tencent": sent through that provider's SDK with the credentials below, from the
# environment only.
SMS_PROVIDER = env.str("SMS_PROVIDER", default="sandbox")
SMS_SIGN_NAME = env.str("SMS_SIGN_NAME", default="")
# Our message kinds to the provider's approved template codes: "verify_code=SMS_1,…".
SMS_TEMPLATES = env.dict(
    "SMS_TEMPLATES",
    default={
        "verify_code": "SANDBOX_VERIFY_CODE",
        "reset_code": "SANDBOX_RESET_CODE",
        "complaint_filed": "SANDBOX_COMPLAINT_FILED",
        "last_reminder": "SANDBOX_LAST_REMINDER",
        "complaint_outcome": "SANDBOX_COMPLAINT_OUTCOME",
    },
)
SMS_TIMEOUT_SECONDS = env.float("SMS_TIMEOUT_SECONDS", default=5.0)
ALIYUN_SMS_ACCESS_KEY_ID = env.str("ALIYUN_SMS_ACCESS_KEY_ID", default="")
ALIYUN_SMS_ACCESS_KEY_SECRET = env.str("ALIYUN_SMS_ACCESS_KEY_SECRET", default="")
ALIYUN_SMS_ENDPOINT = env.str("ALIYUN_SMS_ENDPOINT", default="https://dysmsapi.aliyuncs.com")
TENCENT_SMS_SECRET_ID = env.str("TENCENT_SMS_SECRET_ID", default="")
TENCENT_SMS_SECRET_KEY = env.str("TENCENT_SMS_SECRET_KEY", default="")
TENCENT_SMS_SDK_APP_ID = env.str("TENCENT_SMS_SDK_APP_ID", default="")
TENCENT_SMS_REGION = env.str("TENCENT_SMS_REGION", default="ap-guangzhou")
TENCENT_SMS_ENDPOINT = env.str("TENCENT_SMS_ENDPOINT", default="https://sms.tencentcloudapi.com")
# Messages one number may get, whoever asks (kamen_complaints/sms/limits.py): codes per
# minute, hour and day; notices per hour and day.
SMS_RATE_LIMITS = {
    "code": {
        60: env.int("SMS_CODES_PER_MINUTE", default=1),
        3600: env.int("SMS_CODES_PER_HOUR", default=5),
        86400: env.int("SMS_CODES_PER_DAY", default=10),
    },
    "notice": {
        3600: env.int("SMS_NOTICES_PER_HOUR", default=10),
        86400: env.int("SMS_NOTICES_PER_DAY", default=30),
    },
}
# A phone-verification or reset code: valid this many minutes, this many wrong tries.
SMS_CODE_MINUTES = env.int("SMS_CODE_MINUTES", default=10)
SMS_CODE_TRIES = env.int("SMS_CODE_TRIES", default=5)

# --- Integrations (docs/integrations.md) ----------------------------------------------------
# Webhooks and robots may reach loopback and private addresses: development and tests only.
# Link-local addresses (169.254.0.0/16, the cloud metadata address) are refused regardless.
INTEGRATIONS_ALLOW_PRIVATE_TARGETS = env.bool("INTEGRATIONS_ALLOW_PRIVATE_TARGETS", default=False)
# The arbitration team's group robot (staff reminders): wecom, dingtalk or feishu, its webhook
# URL and, for DingTalk and Feishu, its signing secret. Empty kind or URL: no robot.
ARBITRATION_ROBOT_KIND = env.str("ARBITRATION_ROBOT_KIND", default="")
ARBITRATION_ROBOT_URL = env.str("ARBITRATION_ROBOT_URL", default="")
ARBITRATION_ROBOT_SECRET = env.str("ARBITRATION_ROBOT_SECRET", default="")

# --- Security -----------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_TLS_PROXY else None
# HTTPS only, in production (README "Settings"); off by default so `make run` works on http://.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
# The container healthchecks ask http://127.0.0.1:8000/healthz directly, past the TLS proxy.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Content-Security-Policy on every response (django-csp 4): scripts, styles, images and fonts
# from our own origin only; no inline script or style anywhere (htmx's indicator style is off,
# templates/base.html; Swagger UI is the split view with its script in a file). data: images
# are Swagger UI's CSS icons. docs/security/secrets-and-deploy.md.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- Logging ------------------------------------------------------------------------------
# To stderr, one line per record with the request id (kamen_complaints/logs.py): JSON objects
# (time, level, logger, message, request_id, user_id, path) unless LOG_FORMAT=console, which
# development (`make run`, the tests) uses by default.
LOG_FORMAT = env.str("LOG_FORMAT", default="console" if KAMEN_ENV == "development" else "json")
LOGGING = logging_config(log_format=LOG_FORMAT, level=env.str("LOG_LEVEL", default="INFO"))

# --- Metrics and error reporting (docs/operations.md) ---------------------------------------
# /metrics answers a bearer token (`Authorization: Bearer <METRICS_TOKEN>`; empty: no token
# accepted) or a direct request from these networks (CIDR, comma-separated); anyone else 404.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
if METRICS_TOKEN and len(METRICS_TOKEN) < 32:
    raise ImproperlyConfigured(
        'METRICS_TOKEN must be at least 32 characters: python -c "import secrets; '
        'print(secrets.token_urlsafe(32))"'
    )
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=["127.0.0.1/32", "::1/128"])
for _network in METRICS_ALLOWED_NETWORKS:
    try:
        ip_network(_network.strip(), strict=False)
    except ValueError as _exc:
        raise ImproperlyConfigured(
            f"METRICS_ALLOWED_NETWORKS: {_network!r} is not an address or a CIDR network."
        ) from _exc
# Sentry, only when SENTRY_DSN is set: errors of web and worker, scrubbed of card keys,
# identity numbers, tokens and secrets before they leave (kamen_complaints/error_reporting.py).
SENTRY_DSN = env.str("SENTRY_DSN", default="")
init_sentry(
    dsn=SENTRY_DSN,
    environment=env.str("SENTRY_ENVIRONMENT", default=KAMEN_ENV),
    release=env.str("SENTRY_RELEASE", default=""),
    traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    send_locals=env.bool("SENTRY_SEND_LOCALS", default=False),
)
