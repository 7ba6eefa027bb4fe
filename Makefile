# Two commands a new user needs: `make run` and `make test` (README.md).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORT
# make test runs the suite in this many processes (pytest-xdist, whole files per process; each
# has its own test database and Redis databases, tests/settings.py). 0: one process.
PYTEST_WORKERS ?= 2
# run, test, bench, backup and restore use the embedded development secrets: allowed only with
# KAMEN_ENV=development (docs/security/secrets-and-deploy.md). Production leaves it unset.
run test pytest bench backup restore: export KAMEN_ENV ?= development

.PHONY: run test lint typecheck pytest venv messages bench fuzz clean backup restore load capacity faults

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

run: venv
	mkdir -p "$${KAMEN_VAR_DIR:-var}"
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py compile_translations
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py seed_demo --if-empty
	$(BIN)/python manage.py runall --port $(PORT)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: venv
	$(BIN)/mypy .

test: venv lint typecheck
	mkdir -p "$${KAMEN_VAR_DIR:-var}"
	# axe-core for the accessibility browser test (package-lock.json pins it); skipped, with a
	# reason, where npm is absent — .ci/run installs Debian's nodejs and npm.
	if [ ! -f node_modules/axe-core/axe.min.js ] && command -v npm >/dev/null; then npm ci --no-audit --no-fund --loglevel=error; fi
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py compile_translations --check
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/pytest $(if $(filter-out 0,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS) --dist loadfile) $(PYTEST_ARGS)

# Regenerate the catalogues after changing strings (needs GNU gettext's xgettext).
# English is the source language, so only the zh-hans catalogue is kept.
messages: venv
	$(BIN)/python manage.py makemessages --locale zh_Hans --no-obsolete --ignore ".venv/*" --ignore "var/*" --ignore "bench/*" --ignore "tests/*"
	$(BIN)/python manage.py makemessages --domain djangojs --locale zh_Hans --no-obsolete --ignore ".venv/*" --ignore "var/*" --ignore "static/vendor/*"

# django-hordak, which `python -m bench hordak` compares the ledger with, lives in its own
# virtualenv, .venv/hordak (requirements-hordak.txt), like Locust's.
$(VENV)/hordak/.installed: requirements-hordak.txt
	test -x $(VENV)/hordak/bin/python || $(PYTHON) -m venv $(VENV)/hordak
	$(VENV)/hordak/bin/python -m pip install --quiet -r requirements-hordak.txt
	touch $@

bench: venv $(VENV)/hordak/.installed
	$(BIN)/python -m bench

# Backup and restore of the embedded default (docs/backup.md): `make backup` writes
# var/backups/kamen-backup-<time>/ (BACKUP_ARGS="--tar --output DIR"); `make restore
# BACKUP=<that folder or .tar>` restores into an empty database and media folder
# (RESTORE_ARGS=--force overwrites). On a server: `python manage.py backup` / `restore`.
backup: venv
	$(BIN)/python manage.py backup $(BACKUP_ARGS)

restore: venv
	@test -n "$(BACKUP)" || { echo "usage: make restore BACKUP=var/backups/kamen-backup-..."; exit 2; }
	$(BIN)/python manage.py restore "$(BACKUP)" $(RESTORE_ARGS)

# Schema fuzzing of the live API (PostgreSQL and Redis on 127.0.0.1; see .ci/fuzz.sh).
fuzz: venv
	bash .ci/fuzz.sh

# The load test (bench/load/run.sh, docs/load.md; PostgreSQL and Redis on 127.0.0.1, about
# 4 minutes). Locust lives in its own virtualenv, .venv/load (requirements-load.txt), so the
# project's .venv and `make test` never carry it or gevent.
$(VENV)/load/.installed: requirements-load.txt
	test -x $(VENV)/load/bin/python || $(PYTHON) -m venv $(VENV)/load
	$(VENV)/load/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/load/bin/python -m pip install --quiet -r requirements-load.txt
	touch $@

load: venv $(VENV)/load/.installed
	bash bench/load/run.sh

# The capacity of one web node: the same mix stepped up (LOAD_STEPS, LOAD_STEP_SECONDS) until
# the complaint pages' p95 passes 500 ms or a request fails (`make load LOAD_MODE=capacity`).
capacity: venv $(VENV)/load/.installed
	LOAD_MODE=capacity bash bench/load/run.sh

# Faults under load: the worker killed mid-sweep and mid-payout batch, Redis (its own, on
# LOAD_FAULTS_REDIS_PORT 6390) restarted, PostgreSQL's connections terminated, beat stopped.
faults: venv $(VENV)/load/.installed
	bash bench/load/faults.sh

clean:
	rm -rf "$${KAMEN_VAR_DIR:-var}/celery" "$${KAMEN_VAR_DIR:-var}/staticfiles"
