"""The production shape on paper: every setting documented, docker-compose.yml and the
Dockerfile as README.md describes them (no Docker engine runs in the test suite)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
# Variables read by the compose file or the image, not by settings.py.
# PROMETHEUS_MULTIPROC_DIR: prometheus_client's, read by /metrics (kamen_complaints/
# metrics_endpoint.py) to sum the gunicorn workers' figures.
COMPOSE_ONLY = {"WEB_CONCURRENCY", "WORKER_CONCURRENCY", "PROMETHEUS_MULTIPROC_DIR"}
PRODUCTION_SECRETS = (
    "SECRET_KEY",
    "CARD_KEY_KEYS",
    "FINGERPRINT_KEY",
    "PACKAGE_SIGNING_KEY",
    "BACKUP_SIGNING_KEY",
)


def settings_variables() -> set[str]:
    source = (ROOT / "kamen_complaints" / "settings.py").read_text(encoding="utf-8")
    names = set(re.findall(r"\benv\.\w+\(\s*\"([A-Z][A-Z0-9_]*)\"", source))
    names |= set(re.findall(r"os\.environ\.get\(\s*\"([A-Z][A-Z0-9_]*)\"", source))
    return names


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def test_settings_read_the_variables_the_readme_promises():
    # Guards the regex below as much as the settings: these must always be found.
    assert {
        "DATABASE_URL",
        "CELERY_BROKER_URL",
        "SECRET_KEY",
        "DEBUG",
        "ALLOWED_HOSTS",
        "CARD_KEY_KEYS",
        "EMAIL_HOST",
    } <= settings_variables()


def test_every_environment_setting_is_documented_in_the_readme_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Settings", 1)[1].split("\n## ", 1)[0]
    missing = sorted(name for name in settings_variables() if f"`{name}`" not in table)
    assert not missing, f"settings missing from README.md's Settings table: {missing}"


def test_compose_runs_postgres_redis_web_worker_and_exactly_one_beat(compose):
    services = compose["services"]
    # …and the example Prometheus (prometheus/, tests/ops/test_prometheus_files.py).
    assert set(services) == {"postgres", "redis", "web", "worker", "beat", "prometheus"}
    assert services["postgres"]["image"] == "postgres:15"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    redis = services["redis"]
    assert redis["image"] == "redis:7"
    command = " ".join(redis["command"])
    assert "--maxmemory-policy noeviction" in command
    assert "--appendonly yes" in command
    assert redis["healthcheck"]["test"]
    assert services["beat"]["deploy"]["replicas"] == 1
    assert "beat" in " ".join(services["beat"]["command"])


def test_compose_web_migrates_and_waits_for_healthy_database_and_broker(compose):
    web = compose["services"]["web"]
    command = " ".join(web["command"])
    assert "migrate --noinput" in command
    assert "compile_translations" in command
    assert "gunicorn" in command
    assert "/healthz" in " ".join(web["healthcheck"]["test"])
    for dependency in ("postgres", "redis"):
        assert web["depends_on"][dependency]["condition"] == "service_healthy"
    for name in ("worker", "beat"):
        assert compose["services"][name]["depends_on"]["web"]["condition"] == "service_healthy"


def test_compose_keeps_database_broker_and_uploads_in_volumes(compose):
    services = compose["services"]
    assert set(compose["volumes"]) >= {"pgdata", "redisdata", "media"}
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "redisdata:/data" in services["redis"]["volumes"]
    for name in ("web", "worker"):
        media_root = services[name]["environment"]["MEDIA_ROOT"]
        assert f"media:{media_root}" in services[name]["volumes"]


def test_compose_sets_only_real_settings_and_takes_secrets_from_the_environment(compose):
    known = settings_variables() | COMPOSE_ONLY
    for name in ("web", "worker", "beat"):
        environment = compose["services"][name]["environment"]
        unknown = sorted(set(environment) - known)
        assert not unknown, f"{name}: not settings: {unknown}"
        assert environment["DATABASE_URL"].startswith("postgres://")
        assert environment["CELERY_BROKER_URL"].startswith("redis://")
        assert environment["DEBUG"] == "false"
        for secret in PRODUCTION_SECRETS:
            # ${VAR:?message}: compose refuses to start without it; no default secret.
            assert re.fullmatch(rf"\$\{{{secret}:\?[^}}]+\}}", environment[secret]), secret
        # Production: the application refuses the development secrets too.
        assert environment["KAMEN_ENV"] == "production"


def test_dockerfile_builds_a_slim_image_run_by_a_user_without_privileges():
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.M)
    assert "pip install -r requirements.txt" in dockerfile
    assert "collectstatic" in dockerfile
    users = re.findall(r"^USER (\S+)$", dockerfile, re.M)
    assert users and users[-1] not in {"root", "0"}
    assert "gunicorn" in dockerfile
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".git", ".venv", "var", ".env"} <= set(ignored)


def test_ci_scripts_are_valid_bash():
    for script in (".ci/run", ".ci/production-shape.sh", ".ci/fuzz.sh", ".ci/production-env.sh"):
        result = subprocess.run(
            ["bash", "-n", str(ROOT / script)], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, f"{script}: {result.stderr}"


# --- Production settings: `check --deploy` clean, the schema without warnings ----------------


def readme_production_env() -> dict[str, str]:
    """The variables of README.md's production `.env` example, each `$(python3 -c "…")`
    secret generated by running its command, as an operator would."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"^cat > \.env <<EOF\n(.*?)^EOF$", readme, re.M | re.S)
    assert block, "README.md has no production .env example"
    env = {}
    for line in block.group(1).splitlines():
        name, _, value = line.partition("=")
        command = re.fullmatch(r'\$\(python3 -c "(.*)"\)', value)
        if command:
            value = subprocess.run(
                [sys.executable, "-c", command.group(1)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        env[name] = value
    return env


def production_process_env(tmp_path: Path) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "kamen_complaints.settings",
        "KAMEN_VAR_DIR": str(tmp_path / "var"),
        # What docker-compose.yml adds (checks do not connect to either).
        "DATABASE_URL": "postgres://kamen:pw@postgres:5432/kamen",
        "CELERY_BROKER_URL": "redis://redis:6379/0",
        "CACHE_URL": "rediscache://redis:6379/1",
        "DEBUG": "false",
        # docker-compose.yml's default: it pays through the sandbox, so it says it is a demo.
        "KAMEN_DEMO_DEPLOYMENT": "true",
    }
    env.update(readme_production_env())
    env.pop("KAMEN_ENV", None)  # unset: production
    return env


def test_the_readme_production_example_sets_real_secrets_and_https():
    env = readme_production_env()
    for name in PRODUCTION_SECRETS:
        assert env[name] and env[name] != getattr(settings, name), name
    assert env["SECURE_SSL_REDIRECT"] == "true"
    assert int(env["SECURE_HSTS_SECONDS"]) > 0
    assert "KAMEN_ENV" not in env


@pytest.mark.slow
def test_check_deploy_with_the_readme_production_settings_reports_no_issues(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_process_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.slow
def test_the_openapi_schema_validates_without_warnings(tmp_path):
    # Two names for the evidence kind (all kinds vs the uploadable ones) once made
    # drf-spectacular warn; ENUM_NAME_OVERRIDES names both (kamen_complaints/settings.py).
    schema = tmp_path / "schema.yml"
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "spectacular",
            "--validate",
            "--fail-on-warn",
            "--file",
            str(schema),
        ],
        cwd=ROOT,
        env={**os.environ, "KAMEN_ENV": "development", "KAMEN_VAR_DIR": str(tmp_path / "var")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stderr
    components = yaml.safe_load(schema.read_text(encoding="utf-8"))["components"]["schemas"]
    assert "UploadableEvidenceKindEnum" in components
    assert not [name for name in components if re.fullmatch(r"Kind[0-9a-f]{3}Enum", name)]


def test_make_run_and_test_are_development_and_the_image_build_needs_no_secret():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = re.search(r"^(.*): export KAMEN_ENV \?= development$", makefile, re.M)
    assert targets and {"run", "test"} <= set(targets.group(1).split())
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "KAMEN_ENV" not in re.sub(r"^#.*$", "", dockerfile, flags=re.M)
    assert "compile_translations --skip-checks" in dockerfile
    shape = (ROOT / ".ci" / "production-shape.sh").read_text(encoding="utf-8")
    assert '. "$(dirname "$0")/production-env.sh"' in shape
    env = (ROOT / ".ci" / "production-env.sh").read_text(encoding="utf-8")
    assert "export KAMEN_ENV=production" in env


# --- PostgreSQL's JIT compiler (README "Settings": POSTGRES_JIT) ------------------------------


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_connections_run_without_jit() -> None:
    """The metrics' range aggregates cross jit_above_cost; compiling them cost more than it
    saved (docs/benchmarks.md, `admin`), so connections start with jit off."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone() == ("off",)


def test_postgres_jit_can_be_kept_on(tmp_path: Path) -> None:
    env = {
        **production_process_env(tmp_path),
        "KAMEN_ENV": "development",
        "DATABASE_URL": "postgres://kamen:pw@postgres:5432/kamen",
    }
    code = "from django.conf import settings; print(settings.DATABASES['default'].get('OPTIONS'))"
    shown = {}
    for jit in ("", "true"):
        result = subprocess.run(
            [sys.executable, "-c", f"import django; django.setup(); {code}"],
            env={**env, "POSTGRES_JIT": jit} if jit else env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        shown[jit] = result.stdout.strip()
    assert shown[""] == "{'options': '-c jit=off'}"
    assert shown["true"] in ("{}", "None")
