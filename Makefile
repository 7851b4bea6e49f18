# Two commands a newcomer needs: `make test` and `make demo`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test demo lint bench model fuzz venv clean chromium screenshots

venv: $(STAMP)

# pyenv honours .python-version, so this makes a 3.12 venv; reinstall when pyproject changes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,postgres]'
	touch $(STAMP)

# The dashboard's browser test drives Debian's Chromium (never a downloaded one): installed
# here when missing and we are root (CI is); elsewhere that one test skips and says why.
CHROMIUM := /usr/bin/chromium

test: lint chromium
	$(PY) -m pytest -q

chromium:
	@test -x $(CHROMIUM) || [ "$$(id -u)" != 0 ] || { \
		echo "installing chromium for the dashboard's browser test"; \
		apt-get update -qq >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# A picture of every dashboard page in docs/dashboard (the browser test, with more story).
screenshots: $(STAMP) chromium
	DASHBOARD_SCREENSHOTS=docs/dashboard $(PY) -m pytest -q tests/dashboard/test_dashboard_browser.py

# ruff, then the layer rules of docs/architecture.md (import-linter's contracts).
lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

demo: $(STAMP)
	$(PY) -m tests.demo

bench: $(STAMP)
	$(PY) -m tests.bench $(BENCH)

# The newest-wins model (tests/model) at a longer budget than make test gives it.
model: $(STAMP)
	MODEL_RANDOM=1 MODEL_EXAMPLES=$${MODEL_EXAMPLES:-1000} MODEL_STEPS=$${MODEL_STEPS:-40} \
		$(PY) -m pytest -q --timeout=0 tests/model

# The long hostile run of the fuzz suite (tests/fuzz): FUZZ_EXAMPLES examples per property,
# drawn at random (make test runs a small fixed set). No per-test time limit here.
FUZZ_EXAMPLES ?= 2000
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q -p no:cacheprovider --timeout=0 tests/fuzz

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
