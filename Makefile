# Two commands a newcomer needs: `make test` and `make demo`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test demo lint bench model fuzz venv clean

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
		$(PY) -m pytest -q --timeout=0 tests/model

# The long hostile run of the fuzz suite (tests/fuzz): FUZZ_EXAMPLES examples per property,
# drawn at random (make test runs a small fixed set). No per-test time limit here.
FUZZ_EXAMPLES ?= 2000
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q -p no:cacheprovider --timeout=0 tests/fuzz

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
