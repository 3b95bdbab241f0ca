# The README's two commands: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
MELTANO_VENV := .venv-meltano
DBT_VENV := .venv-dbt
# The target's tests under connector 5.x too (the local Snowflake still runs from .venv:
# fakesnow imports 4.x internals). docs/development.md, "Trying another connector version".
VENV5 := .venv-connector5
# What 5.x changes (login, PUT/COPY, results, timeouts, signals): a subset of tests/target,
# to keep `make test` within its time budget; `make test CONNECTOR5_TESTS=tests/target` for all.
CONNECTOR5_TESTS := $(addprefix tests/target/,test_load.py test_config_and_secrets.py \
	test_least_privilege.py test_batch_messages.py test_kill_and_resume.py)

.PHONY: test check lint format docs demo demo-live bench install clean

$(VENV)/.installed: tap-intercom/pyproject.toml target-snowflake/pyproject.toml testbed/pyproject.toml requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e './tap-intercom[webhooks]' -e ./target-snowflake -e ./testbed -r requirements-dev.txt
	touch $@

$(MELTANO_VENV)/.installed: requirements-meltano.txt
	test -x $(MELTANO_VENV)/bin/python || $(PYTHON) -m venv $(MELTANO_VENV)
	$(MELTANO_VENV)/bin/python -m pip install -q --upgrade pip
	$(MELTANO_VENV)/bin/python -m pip install -q -r requirements-meltano.txt
	touch $@

$(DBT_VENV)/.installed: requirements-dbt.txt
	test -x $(DBT_VENV)/bin/python || $(PYTHON) -m venv $(DBT_VENV)
	$(DBT_VENV)/bin/python -m pip install -q --upgrade pip
	$(DBT_VENV)/bin/python -m pip install -q -r requirements-dbt.txt
	touch $@

$(VENV5)/.installed: requirements-connector5.txt tap-intercom/pyproject.toml target-snowflake/pyproject.toml testbed/pyproject.toml
	test -x $(VENV5)/bin/python || $(PYTHON) -m venv $(VENV5)
	$(VENV5)/bin/python -m pip install -q --upgrade pip
	$(VENV5)/bin/python -m pip install -q -r requirements-connector5.txt
	$(VENV5)/bin/python -m pip install -q --no-deps -e ./tap-intercom -e ./target-snowflake -e ./testbed
	touch $@

install: $(VENV)/.installed $(MELTANO_VENV)/.installed $(DBT_VENV)/.installed $(VENV5)/.installed

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy --strict -p tap_intercom -p target_snowflake
	$(VENV)/bin/mypy -p testbed

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The plugins' READMEs: their settings tables, from `--about` (tests/test_docs.py checks them).
docs: $(VENV)/.installed
	$(PY) -m scripts.settings_tables

# Lint and the tests that start no server (tests/conftest.py marks the others): minutes
# quicker than `make test`, for the edit-test loop.
check: $(VENV)/.installed lint
	$(PY) -m pytest -q -m "not servers and not e2e" $(PYTEST_ARGS)

# Two workers: the suite mostly waits on the servers and processes it starts (one core
# busy on average); tests/conftest.py keeps those sharing project directories on one.
PARALLEL := -n 2 --dist loadgroup

test: install lint
	$(PY) -m pytest $(PARALLEL) $(PYTEST_ARGS)
	LOCAL_SNOWFLAKE_PYTHON=$(abspath $(PY)) $(VENV5)/bin/python -m pytest $(PARALLEL) -p no:cacheprovider $(PYTEST_ARGS) $(CONNECTOR5_TESTS)

demo: install
	$(PY) -m scripts.demo

# A change in the sandbox arriving as a Snowflake row within seconds (docs/webhooks.md).
demo-live: install
	$(PY) -m scripts.demo_live

bench: $(VENV)/.installed
	$(PY) -m bench

clean:
	rm -rf $(VENV) $(MELTANO_VENV) $(DBT_VENV) $(VENV5) .meltano .demo
