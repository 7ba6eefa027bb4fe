"""The development secrets published in this repository are refused outside development.

Settings are read once per process, so the rule is tested where it acts: `manage.py check`,
the WSGI module gunicorn imports and Celery's worker and beat, each started as a process with
an environment of the test's choosing (docs/security/secrets-and-deploy.md)."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography.fernet import Fernet
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
PYTHON = sys.executable
BIN = Path(sys.executable).parent
SECRETS = (
    "SECRET_KEY",
    "CARD_KEY_KEYS",
    "FINGERPRINT_KEY",
    "PACKAGE_SIGNING_KEY",
    "BACKUP_SIGNING_KEY",
)
# The suite runs on the embedded development values: these are the published secrets.
PUBLISHED = {name: getattr(settings, name) for name in SECRETS}
PUBLISHED["CARD_KEY_KEYS"] = settings.CARD_KEY_KEYS[0]


def real_secrets() -> dict[str, str]:
    """New values, made the way README.md says."""
    return {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "CARD_KEY_KEYS": Fernet.generate_key().decode(),
        "FINGERPRINT_KEY": secrets.token_urlsafe(32),
        "PACKAGE_SIGNING_KEY": base64.b64encode(os.urandom(32)).decode(),
        "BACKUP_SIGNING_KEY": secrets.token_urlsafe(32),
    }


def process_env(tmp_path: Path, kamen_env: str | None, **values: str) -> dict[str, str]:
    """A clean environment: no KAMEN_ENV unless given (the suite's own is `development`)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "kamen_complaints.settings",
        "KAMEN_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    if kamen_env is not None:
        env["KAMEN_ENV"] = kamen_env
    env.update(values)
    return env


def run(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture
def unset_is_production() -> None:
    # settings.py reads a .env at the repository root: a developer's KAMEN_ENV there would
    # make "unset" mean development.
    dotenv = ROOT / ".env"
    if dotenv.exists() and "KAMEN_ENV" in dotenv.read_text(encoding="utf-8"):
        pytest.skip(".env sets KAMEN_ENV")


# --- The rule --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SECRETS)
@pytest.mark.parametrize("kamen_env", ["production", "something-else"])
def test_each_development_secret_is_an_error_outside_development(name, kamen_env):
    from kamen_complaints.deployment import DEVELOPMENT_SECRETS, deployment_errors

    values = {**real_secrets(), name: DEVELOPMENT_SECRETS[name]}
    values["CARD_KEY_KEYS"] = [values["CARD_KEY_KEYS"]]
    errors = deployment_errors(SimpleNamespace(KAMEN_ENV=kamen_env, **values))
    assert errors, "a development secret must be refused"
    if kamen_env == "production":
        assert [e.id for e in errors] == ["kamen_complaints.E001"]
        assert errors[0].msg.startswith(f"{name} is the development default")
        assert errors[0].is_serious()  # an Error, not a Warning: the process stops
    else:
        assert [e.id for e in errors] == ["kamen_complaints.E002"]


def test_the_published_card_key_is_refused_anywhere_in_the_key_list():
    from kamen_complaints.deployment import DEVELOPMENT_SECRETS, deployment_errors

    values = real_secrets()
    values["CARD_KEY_KEYS"] = [Fernet.generate_key().decode(), DEVELOPMENT_SECRETS["CARD_KEY_KEYS"]]
    errors = deployment_errors(SimpleNamespace(KAMEN_ENV="production", **values))
    assert [e.msg.split()[0] for e in errors] == ["CARD_KEY_KEYS"]


def test_development_accepts_the_embedded_secrets_and_production_accepts_real_ones():
    from kamen_complaints.deployment import DEVELOPMENT_SECRETS, deployment_errors

    development = {**DEVELOPMENT_SECRETS, "CARD_KEY_KEYS": [DEVELOPMENT_SECRETS["CARD_KEY_KEYS"]]}
    assert deployment_errors(SimpleNamespace(KAMEN_ENV="development", **development)) == []
    values = real_secrets()
    values["CARD_KEY_KEYS"] = [values["CARD_KEY_KEYS"]]
    assert deployment_errors(SimpleNamespace(KAMEN_ENV="production", **values)) == []


def test_the_settings_defaults_are_the_ones_refused():
    from kamen_complaints.deployment import DEVELOPMENT_SECRETS

    # The suite runs on the defaults, with KAMEN_ENV=development (tests/settings.py).
    assert settings.KAMEN_ENV == "development"
    in_use = {name: getattr(settings, name) for name in SECRETS}
    assert in_use == {
        **DEVELOPMENT_SECRETS,
        "CARD_KEY_KEYS": [DEVELOPMENT_SECRETS["CARD_KEY_KEYS"]],
    }


# --- The doors: manage.py, gunicorn's WSGI module, Celery worker and beat ---------------------


def test_manage_py_refuses_to_start_on_the_defaults_without_kamen_env(
    tmp_path, unset_is_production
):
    result = run([PYTHON, "manage.py", "check"], process_env(tmp_path, None))
    assert result.returncode != 0, result.stdout
    for name in SECRETS:
        assert f"(kamen_complaints.E001) {name} is the development default" in result.stderr
    assert "KAMEN_ENV=development" in result.stderr


def test_manage_py_refuses_one_development_secret_among_real_ones(tmp_path):
    values = {**real_secrets(), "FINGERPRINT_KEY": PUBLISHED["FINGERPRINT_KEY"]}
    result = run([PYTHON, "manage.py", "check"], process_env(tmp_path, "production", **values))
    assert result.returncode != 0, result.stdout
    assert "(kamen_complaints.E001) FINGERPRINT_KEY is the development default" in result.stderr
    for name in ("SECRET_KEY", "CARD_KEY_KEYS", "PACKAGE_SIGNING_KEY"):
        assert f"{name} is the development default" not in result.stderr


def test_manage_py_runs_on_the_defaults_in_development(tmp_path):
    # `make run` and `make test` on a fresh machine: no configuration but KAMEN_ENV.
    result = run([PYTHON, "manage.py", "check"], process_env(tmp_path, "development"))
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_manage_py_runs_with_real_secrets_in_production(tmp_path):
    # The secrets are what is checked here; with no payment channel configured the deployment
    # pays through the sandbox, which production allows only when it says it is a demo
    # (orders.E001, tests/payments).
    env = process_env(tmp_path, None, **real_secrets(), KAMEN_DEMO_DEPLOYMENT="true")
    result = run([PYTHON, "manage.py", "check"], env)
    assert result.returncode == 0, result.stderr


def test_gunicorns_wsgi_module_refuses_to_load_a_development_secret(tmp_path, unset_is_production):
    values = {**real_secrets(), "SECRET_KEY": PUBLISHED["SECRET_KEY"]}
    result = run(
        [PYTHON, "-c", "import kamen_complaints.wsgi"], process_env(tmp_path, None, **values)
    )
    assert result.returncode != 0, "gunicorn would serve with the published SECRET_KEY"
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY is the development default" in result.stderr


def test_gunicorns_wsgi_module_loads_with_real_secrets(tmp_path):
    result = run(
        [PYTHON, "-c", "import kamen_complaints.wsgi"],
        process_env(tmp_path, "production", **real_secrets()),
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    [
        ["worker", "--pool", "solo", "--without-gossip", "--without-mingle"],
        ["beat"],
    ],
    ids=["worker", "beat"],
)
def test_celery_refuses_to_start_on_a_development_secret(tmp_path, command):
    values = {**real_secrets(), "PACKAGE_SIGNING_KEY": PUBLISHED["PACKAGE_SIGNING_KEY"]}
    env = process_env(tmp_path, "production", **values)
    try:
        result = run([str(BIN / "celery"), "-A", "kamen_complaints", *command], env, timeout=45)
    except subprocess.TimeoutExpired:
        pytest.fail(f"celery {command[0]} started with the published PACKAGE_SIGNING_KEY")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "ImproperlyConfigured" in output
    assert "PACKAGE_SIGNING_KEY is the development default" in output
