# Two commands a newcomer needs: `make test` and `make demo`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test demo lint bench model venv clean

venv: $(STAMP)

# pyenv honours .python-version, so this makes a 3.12 venv; reinstall when pyproject changes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,postgres]'
	touch $(STAMP)

test: lint
	$(PY) -m pytest -q

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
		$(PY) -m pytest -q tests/model

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
