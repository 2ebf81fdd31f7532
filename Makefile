# Every target bootstraps its own virtual environment from a bare Python 3.11.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check
READY  := $(VENV)/.ready
DEV    := $(VENV)/.dev

.PHONY: test parity fuzz sweep new-pair docs bench mutation lint clean

# What the suite runs on. pip compiles each module it installs, one file at a time (torch's
# alone took 19 of a fresh venv's 53 s): installed uncompiled, then compiled on every core. A
# module that does not compile is left uncompiled, as pip leaves it (one package ships a
# test file in 3.12 syntax), so the compile's own result is not the venv's.
$(READY): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) --no-compile -e '.[test,report]'
	$(PY) -c "import compileall, sys; compileall.compile_dir(sys.argv[1], quiet=2, workers=0)" $(VENV)/lib
	touch $(READY)

# the tools of mutation testing and lint, on top
$(DEV): $(READY)
	$(PIP) -e '.[dev]'
	touch $(DEV)

## the whole test suite, in parallel
test: $(READY)
	$(PY) -m pytest -n auto

## the parity matrix alone, with its per-pair summary
parity: $(READY)
	$(PY) -m pytest -n auto -p no:randomly parity_tests/suite/test_parity.py \
		--parity-report reports --junitxml reports/junit.xml

## Hypothesis over every pair, the long profile
fuzz: $(READY)
	$(PY) -m pytest -n auto -m fuzz --hypothesis-profile=long parity_tests/suite/test_fuzz.py

## no false alarms: every configuration of every pair over 200 seeds (66 a non-standard
## input distribution), with the sweep-only ones (64-step sequences), every trajectory over 20
sweep: $(READY)
	$(PY) -m pytest -q -n auto -p no:randomly parity_tests/suite/test_parity.py parity_tests/suite/test_trajectories.py \
		--parity-seeds 200

## the skeleton of a new pair: make new-pair NAME=LayerScale
new-pair: $(READY)
	$(PY) -m parity_tests.tools.new_pair $(NAME)

## reference layers against torch and their limits, the matrix against pytest's floor; freed memory
## stays in the process, so no layer (NumPy's or torch's) is timed page-faulting it back in
bench: $(READY)
	GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967295 \
		$(PY) -m parity_tests.tools.bench

## mutation testing of reference/ with the parity matrix as the test command
mutation: $(DEV)
	rm -rf mutants
	$(PY) -m mutmut run --max-children 2
	$(PY) -m mutmut results

## docs/numpy-torch-equivalence.md, generated from the checks of the seed's table
docs: $(READY)
	$(PY) -m parity_tests.tools.equivalence

lint: $(DEV)
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) reports .pytest_cache .hypothesis *.egg-info
