# Course commands. `make install` then `make test` is all a new machine needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# Parallel workers for the notebook runs (one kernel per notebook).
JOBS ?= 2
NOTEBOOK_TIMEOUT ?= 300
export TF_CPP_MIN_LOG_LEVEL ?= 3
export PYTHONWARNINGS ?= ignore::DeprecationWarning

.PHONY: help install test unit notebooks check labs format lint lab data grade clean one

help:  ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

install:  ## create .venv with the pinned requirements and `common` (editable)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .

test: check unit notebooks  ## everything CI runs: notebook checks, unit tests, every solution under nbval
	@echo "make test: all passed"

unit:  ## unit tests of common/ and tools/, grading, generated labs score 0, full profile offline
	LAB_PROFILE=smoke $(BIN)/pytest -n $(JOBS) --durations=10 tests

notebooks:  ## every solution notebook under nbval, smoke profile, offline
	LAB_PROFILE=smoke MPLBACKEND=module://matplotlib_inline.backend_inline \
	  $(BIN)/pytest -p no:cacheprovider --nbval-lax --nbval-current-env --nbval-cell-timeout=$(NOTEBOOK_TIMEOUT) \
	  -n $(JOBS) --dist loadfile -v --durations=20 --junitxml=build/nbval-solutions.xml solutions/
	$(PY) -m tools grade --solutions-junit build/nbval-solutions.xml

check: lint  ## fail on labs out of date, outputs, leaked solutions, bad badges or check ids
	$(PY) -m tools check

lint:
	$(BIN)/ruff check common tools tests solutions
	$(BIN)/ruff format --check common tools tests solutions

labs:  ## regenerate labs/ from solutions/
	$(PY) -m tools labs

format:  ## canonicalise notebooks (ruff format, then canonical JSON) and regenerate labs
	$(BIN)/ruff format common tools tests solutions
	$(PY) -m tools format
	$(PY) -m tools labs

lab:  ## run one solution headless into build/, its figures into build/figures/: make lab N=00
	@test -n "$(N)" || { echo "usage: make lab N=00"; exit 2; }
	@nb=$$(ls solutions/$(N)_*.ipynb 2>/dev/null | head -1); \
	  test -n "$$nb" || { echo "no solution notebook solutions/$(N)_*.ipynb"; exit 2; }; \
	  stem=$$(basename "$$nb" .ipynb); \
	  mkdir -p build && $(BIN)/jupyter nbconvert --to notebook --execute "$$nb" \
	    --ExecutePreprocessor.timeout=$(NOTEBOOK_TIMEOUT) --output-dir build/ && \
	  $(PY) -m tools figures "build/$$stem.ipynb" "build/figures/$$stem"

# Grading (README, "For instructors"): make grade LAB=00 SUBMISSIONS=submissions/
CELL_TIMEOUT ?= 300
STUDENT_TIMEOUT ?= 1200
GRADE_JOBS ?= 0
MEMORY_MB ?= 6144
GRADE_USAGE := usage: make grade LAB=NN SUBMISSIONS=DIR [OUT=grades/NN] [CELL_TIMEOUT=$(CELL_TIMEOUT)] \
  [STUDENT_TIMEOUT=$(STUDENT_TIMEOUT)] [GRADE_JOBS=N (0: one per core)] [LAB_PROFILE=smoke|full] \
  [MEMORY_MB=$(MEMORY_MB)] [NO_SANDBOX=1 (trusted notebooks only, flagged)]

grade:  ## grade DIR/<student>/NN_*.ipynb, sandboxed, into OUT/grades.csv: make grade LAB=00 SUBMISSIONS=DIR
	@test -n "$(LAB)" -a -n "$(SUBMISSIONS)" || { echo "$(GRADE_USAGE)"; exit 2; }
	$(PY) -m tools grade --lab "$(LAB)" --submissions "$(SUBMISSIONS)" --out "$(or $(OUT),grades/$(LAB))" \
	  --cell-timeout "$(CELL_TIMEOUT)" --student-timeout "$(STUDENT_TIMEOUT)" --jobs "$(GRADE_JOBS)" \
	  --profile "$${LAB_PROFILE:-smoke}" --memory-mb "$(MEMORY_MB)" $(if $(NO_SANDBOX),--no-sandbox)

data:  ## pre-fetch the full profile's datasets (needs internet)
	$(PY) -m common.data

clean:
	rm -rf build .pytest_cache

# One notebook through the pipeline, for authors working beside each other:
#   make one NB=solutions/03_optimizers.ipynb
one:
	$(BIN)/ruff format $(NB)
	$(PY) -m tools format $(NB)
	$(PY) -m tools labs $(NB)
