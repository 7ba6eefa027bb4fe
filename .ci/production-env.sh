# Sourced by .ci/production-shape.sh and .ci/fuzz.sh: the environment of a production process,
# on the caller's scratch database and Redis db, with fresh secrets (none of the development
# defaults, which KAMEN_ENV=production refuses). Needs BIN, PG_URL, REDIS_URL, DB_NAME,
# REDIS_DB and WORK set by the caller.
export DATABASE_URL="$PG_URL/$DB_NAME"
export CELERY_BROKER_URL="$REDIS_URL/$REDIS_DB"
export CACHE_URL="${REDIS_URL/redis:/rediscache:}/$REDIS_DB"
export KAMEN_VAR_DIR="$WORK/var"
export MEDIA_ROOT="$WORK/media"
export DEBUG=false
export ALLOWED_HOSTS=127.0.0.1,localhost
# Production, as on a server (KAMEN_ENV unset means the same; set explicitly so a `make` or a
# shell that exported development cannot leak in).
export KAMEN_ENV=production
# It pays through the sandbox (no real channel is reachable here), which a production process
# refuses unless the deployment says it is a demo (orders/checks.py): this one is.
export KAMEN_DEMO_DEPLOYMENT=true
SECRET_KEY="$("$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(50))')"
CARD_KEY_KEYS="$("$BIN/python" -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
FINGERPRINT_KEY="$("$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(32))')"
PACKAGE_SIGNING_KEY="$("$BIN/python" -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')"
BACKUP_SIGNING_KEY="$("$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(32))')"
export SECRET_KEY CARD_KEY_KEYS FINGERPRINT_KEY PACKAGE_SIGNING_KEY BACKUP_SIGNING_KEY
export PYTHONUNBUFFERED=1
unset CELERY_TASK_ALWAYS_EAGER
