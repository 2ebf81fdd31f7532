# Every target bootstraps its own virtual environment from a bare Python 3.11.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
READY  := $(VENV)/.ready

.PHONY: test parity lint clean

$(READY): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(READY)

## the whole test suite, in parallel
test: $(READY)
	$(PY) -m pytest -n auto

## the parity matrix alone, with its per-pair summary
parity: $(READY)
	$(PY) -m pytest -n auto -p no:randomly parity_tests/test_parity.py \
		--parity-report reports --junitxml reports/junit.xml

lint: $(READY)
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) reports .pytest_cache .hypothesis *.egg-info
