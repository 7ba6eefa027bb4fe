"""Development versus production, and the secrets this repository publishes.

The settings fall back to embedded secrets so that a fresh clone runs (`make run`) and tests
(`make test`) with no configuration. Those values are in the repository, so anyone holding
them can sign a payment callback, forge a session, decrypt card keys or sign an evidence
package. They are therefore accepted only where the environment says, explicitly, that this
is a development machine: `KAMEN_ENV=development` (set by the Makefile's run, test and bench
targets and by tests/conftest.py). Unset, or `production`, is strict: a process that finds a
development secret refuses to start.

Three doors, one rule (docs/security/secrets-and-deploy.md):

- `manage.py` commands run Django's system checks: `check_development_secrets` is registered
  in `KamenComplaintsConfig.ready()` and returns Errors, so `migrate`, `check --deploy`,
  `runall`, … stop.
- gunicorn does not run system checks: kamen_complaints/wsgi.py (and asgi.py) call
  `refuse_development_secrets`, so no worker boots.
- Celery worker and beat do not act on system checks: kamen_complaints/celery.py calls it when
  they import their task modules, an error Celery re-raises, so neither starts.
"""

from __future__ import annotations

from typing import Any

from django.core.checks import Error
from django.core.exceptions import ImproperlyConfigured

DEVELOPMENT = "development"
PRODUCTION = "production"
ENVIRONMENTS = (DEVELOPMENT, PRODUCTION)

# The embedded defaults of kamen_complaints/settings.py. Public: never valid outside development.
DEVELOPMENT_SECRETS: dict[str, str] = {
    "SECRET_KEY": "dev-insecure-kamen-complaints-change-me-0123456789abcdef",
    "CARD_KEY_KEYS": "bXFRmMNzPUiJ5Ivl3c25T3PSwOG1fhKvhyqiHwRv-fk=",
    "FINGERPRINT_KEY": "dev-insecure-fingerprint-key",
    "PACKAGE_SIGNING_KEY": "7CVER1R2PG31C5dbJrUBOGyd3tgCVF12wy97QDGWJU4=",
    "BACKUP_SIGNING_KEY": "dev-insecure-backup-signing-key",
}

# One-line commands that make a real value (README.md "Settings").
GENERATE: dict[str, str] = {
    "SECRET_KEY": 'python -c "import secrets; print(secrets.token_urlsafe(50))"',
    "CARD_KEY_KEYS": (
        'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
    ),
    "FINGERPRINT_KEY": 'python -c "import secrets; print(secrets.token_urlsafe(32))"',
    "PACKAGE_SIGNING_KEY": (
        'python -c "import base64, os; print(base64.b64encode(os.urandom(32)).decode())"'
    ),
    "BACKUP_SIGNING_KEY": 'python -c "import secrets; print(secrets.token_urlsafe(32))"',
}


def development_secrets_in_use(settings: Any) -> list[str]:
    """The names of the secret settings that still hold (or, for CARD_KEY_KEYS, still
    contain) a development default."""
    names = []
    for name, published in DEVELOPMENT_SECRETS.items():
        value = getattr(settings, name, None)
        # CARD_KEY_KEYS is a list, newest first: the published key anywhere in it would
        # still decrypt, and let anyone forge, the card keys stored under it.
        listed = value if isinstance(value, list | tuple) else [value]
        values = [str(v).strip() for v in listed]
        if published in values:
            names.append(name)
    return names


def deployment_errors(settings: Any) -> list[Error]:
    """What refuses to start: an unknown KAMEN_ENV, or a development secret outside
    development."""
    kamen_env = getattr(settings, "KAMEN_ENV", PRODUCTION)
    if kamen_env not in ENVIRONMENTS:
        return [
            Error(
                f"KAMEN_ENV is {kamen_env!r}; it must be 'development' or 'production'.",
                hint="Leave it unset in production; set KAMEN_ENV=development only on a "
                "development machine (docs/security/secrets-and-deploy.md).",
                id="kamen_complaints.E002",
            )
        ]
    if kamen_env == DEVELOPMENT:
        return []
    return [
        Error(
            f"{name} is the development default published in the repository, and KAMEN_ENV "
            f"is not 'development'.",
            hint=f"Set {name} in the environment to a new secret: {GENERATE[name]} — or, on a "
            "development machine only, set KAMEN_ENV=development "
            "(docs/security/secrets-and-deploy.md).",
            id="kamen_complaints.E001",
        )
        for name in development_secrets_in_use(settings)
    ]


def check_development_secrets(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """System check (every `manage.py` command that runs checks)."""
    from django.conf import settings

    return deployment_errors(settings)


def refuse_development_secrets() -> None:
    """For processes that run no system checks (gunicorn, Celery worker and beat)."""
    from django.conf import settings

    errors = deployment_errors(settings)
    if errors:
        lines = [f"{e.id}: {e.msg} HINT: {e.hint}" for e in errors]
        raise ImproperlyConfigured("refusing to start:\n" + "\n".join(lines))
