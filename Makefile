# Course commands. `make install` then `make test` is all a new machine needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# Parallel workers for `make unit` and `make notebooks` (one kernel per notebook). Three on 2
# cores: the third fills the time the others wait (time limits, judges); measured 6 December,
# make test alternating 2/3/2/3 workers in one clone: 455, 428, 471, 439 s (unit 176, 160, 185, 160 s).
JOBS ?= 3
# The all-CPU runs (full path, Colab, wrong answers) keep two: a third gained nothing for
# test-full-path (193 s against 192 s, 7 % more CPU); the other two were not measured with three.
FULL_JOBS ?= 2
NOTEBOOK_TIMEOUT ?= 300
export TF_CPP_MIN_LOG_LEVEL ?= 3
export PYTHONWARNINGS ?= ignore::DeprecationWarning

.PHONY: help install test unit notebooks check labs format lint lab data grade release gradebook \
	clean one test-lab test-full-path test-colab test-wrong-answers verify-full grade-worker autograder

help:  ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

# uv (from PyPI, pinned) installs the pins several times faster than pip and caches wheels:
# measured cold 16 s against pip's 63 s (warm pip cache) on 2 cores. UV_PIN= (empty) uses pip.
UV_PIN ?= uv==0.13.9
# $(call pip_install,VENV_DIR,ARGS): uv where UV_PIN is set, pip otherwise. --compile-bytecode:
# uv writes no .pyc by default, and the grader's kernels run with PYTHONDONTWRITEBYTECODE=1 on a
# read-only .venv, so without it every process compiled TensorFlow and Keras from source again:
# `import tensorflow, keras` took 10.5 s of CPU, 3.9 s with the .pyc files (install: +6 s, once).
pip_install = $(if $(UV_PIN),$(1)/bin/uv pip install --quiet --compile-bytecode --python $(1)/bin/python,$(1)/bin/pip install --quiet) $(2)

install:  ## create .venv with the pinned requirements and `common` (editable)
	$(PYTHON) -m venv $(VENV)
	$(if $(UV_PIN),$(BIN)/pip install --quiet "$(UV_PIN)")
	$(call pip_install,$(VENV),-r requirements.txt)
	$(call pip_install,$(VENV),--no-deps -e .)
	@# A .venv made before the bytecode flag: uv skips what is installed, so compile here (7 s when done).
	$(PY) -m compileall -q -j 0 "$$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" >/dev/null

test: check unit notebooks  ## before every change: notebook checks, unit tests, every solution graded (CI then runs test-full-path, test-colab)
	@echo "make test: all passed"

unit:  ## unit tests of common/ and tools/, grading, hostile submissions, generated labs score 0
	LAB_PROFILE=smoke $(BIN)/pytest -n $(JOBS) --durations=10 -m "not full_path" tests

# Each lab's full-profile code path offline (mocked tfds, one training step) on the pinned
# versions: about 5 min on 2 cores (281 s, 5 Dec), so CI runs it after `make test`, not inside it.
test-full-path:  ## every lab's full-profile code path offline (mocked data, one step), pinned versions
	LAB_PROFILE=smoke $(BIN)/pytest -n $(FULL_JOBS) --durations=11 -m full_path tests

# Each known wrong-but-plausible answer (issue 28 §1) applied to its solution must fail its named
# check (tests/wrong_answers.py; lab 01's and 08's also graded as whole submissions). Not in
# `make test` nor CI. Measured 18 min for the first 24 with -n 0 under load 4-8; the 10 of lab 11 added 5 min (-n 2).
test-wrong-answers:  ## every known wrong-but-plausible answer fails its named check (about 25 min)
	rm -rf build/wrong-answers
	LAB_PROFILE=smoke $(BIN)/pytest -n $(FULL_JOBS) --durations=30 tests/wrong_answers.py; \
	  status=$$?; $(PY) tests/wrong_answers.py; exit $$status

# Every solution goes through what a student's notebook goes through when graded: nbval runs it
# in the sandboxed kernel, the judge process runs its check cells; each must score full marks.
# (The check cells run in the notebook itself, as a student sees them, in `make test-colab`.)
notebooks:  ## every solution graded as a submission (sandbox + judge, smoke, offline): full marks
	$(PY) -m tools grade --all-solutions --out build/solutions-graded --jobs $(JOBS) \
	  --profile smoke --cell-timeout $(NOTEBOOK_TIMEOUT)

# The inner loop while working on one lab; `make test` stays the gate before a push (CI runs it).
# Its generated lab graded (scores 0, as in `make unit`) while its solution is graded with the
# attacks (full marks, attacks 0, as in `make notebooks`): the same tests, one lab's share of them.
LAB_NB = $(if $(N),$(firstword $(wildcard solutions/$(N)_*.ipynb)))
ifneq ($(filter test-lab,$(MAKECMDGOALS)),)
ifneq ($(firstword $(subst _, ,$(notdir $(or $(LAB_NB),none)))),$(N))
$(error usage: make test-lab N=NN, a lab in solutions/ (e.g. N=04); received N='$(N)')
endif
endif
test-lab: check  ## one lab's share of make test, in 1-3 min: make test-lab N=04
	LAB_PROFILE=smoke $(BIN)/pytest -q -m "not full_path" -k "$(basename $(notdir $(LAB_NB)))" \
	  tests/test_notebooks.py & unit=$$!; \
	$(PY) -m tools grade --all-solutions --lab $(N) --out build/solutions-graded --jobs 1 \
	  --profile smoke --cell-timeout $(NOTEBOOK_TIMEOUT); graded=$$?; \
	wait $$unit; unit=$$?; test $$graded = 0 -a $$unit = 0 && echo "make test-lab N=$(N): all passed"

check: lint  ## fail on labs out of date, outputs, leaked solutions, bad badges or check ids
	$(PY) -m tools check

lint:
	$(BIN)/ruff check common tools tests solutions
	$(BIN)/ruff format --check common tools tests solutions

# REF=v2026.1 (a tag or commit): the ref the labs' badges and setup cells name; default: main.
labs:  ## regenerate labs/ from solutions/ [REF=tag or commit; default main]
	$(PY) -m tools labs $(if $(REF),--ref "$(REF)")

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
  [MEMORY_MB=$(MEMORY_MB)] [NO_SANDBOX=1 (trusted notebooks only, flagged)] \
  [SCHEDULER=tcp://host:8786 (a Dask cluster: one task per student: README, Grading on a cluster)]

# SCHEDULER: a Dask scheduler's address (or scheduler file, or `local`); unset: the local pool.
SCHEDULER ?=
# make grade-worker: this machine grades for the cluster, WORKER_THREADS students at a time.
WORKER_THREADS ?= $(shell nproc 2>/dev/null || echo 1)

# MANUAL=FILE (the marked written.csv): merge the written marks into OUT/summary.csv and
# rewrite the feedback pages, without running any notebook.
MANUAL ?=
GRADE_OUT = $(or $(OUT),grades/$(LAB))

grade:  ## grade DIR/<student>/NN_*.ipynb, sandboxed, into OUT/grades.csv: make grade LAB=00 SUBMISSIONS=DIR
ifeq ($(MANUAL),)
	@test -n "$(LAB)" -a -n "$(SUBMISSIONS)" || { echo "$(GRADE_USAGE)"; exit 2; }
	$(PY) -m tools grade --lab "$(LAB)" --submissions "$(SUBMISSIONS)" --out "$(or $(OUT),grades/$(LAB))" \
	  --cell-timeout "$(CELL_TIMEOUT)" --student-timeout "$(STUDENT_TIMEOUT)" --jobs "$(GRADE_JOBS)" \
	  --profile "$${LAB_PROFILE:-smoke}" --memory-mb "$(MEMORY_MB)" $(if $(NO_SANDBOX),--no-sandbox) \
	  $(if $(SCHEDULER),--scheduler "$(SCHEDULER)")
	$(PY) -m tools written --out "$(GRADE_OUT)"
	$(PY) -m tools feedback --out "$(GRADE_OUT)"
else
	@test -n "$(LAB)$(OUT)" || { echo "usage: make grade LAB=NN [OUT=grades/NN] MANUAL=grades/NN/written.csv"; exit 2; }
	$(PY) -m tools written --out "$(GRADE_OUT)" --merge "$(MANUAL)"
	$(PY) -m tools feedback --out "$(GRADE_OUT)" --marks "$(MANUAL)"
endif

grade-worker:  ## this machine grades students for a Dask cluster: make grade-worker SCHEDULER=tcp://host:8786
	@test -n "$(SCHEDULER)" || { echo "usage: make grade-worker SCHEDULER=tcp://host:8786 [WORKER_THREADS=N]"; exit 2; }
	@command -v bwrap >/dev/null || echo "warning: no bwrap here: this worker refuses sandboxed students (apt-get install bubblewrap)"
	PYTHONPATH=$(CURDIR) $(BIN)/dask worker \
	  $(if $(filter %.json,$(SCHEDULER)),--scheduler-file "$(SCHEDULER)","$(SCHEDULER)") --nthreads "$(WORKER_THREADS)" \
	  --memory-limit 0 --name "$$(hostname)-$$$$"

# TAG=v2026.1: the git tag every released badge and setup cell names (the lab fetches `common`
# at it); it prints the commands that commit, tag and push the release. No TAG: the branch.
release:  ## the student course (labs without answers, common, README) into DEST, new or a release: make release DEST=../course-release [LABS="00 01"] [TAG=v2026.1]
	@test -n "$(DEST)" || { echo 'usage: make release DEST=DIR [LABS="00 01"] [TAG=v2026.1]  (an empty folder outside this repository, or a release to update)'; exit 2; }
	$(PY) -m tools release --dest "$(DEST)" $(if $(LABS),--labs "$(LABS)") $(if $(TAG),--tag "$(TAG)")

autograder:  ## Gradescope's autograder zip of one lab (setup.sh, run_autograder, grader): make autograder LAB=00 DEST=build/gradescope
	@test -n "$(LAB)" -a -n "$(DEST)" || { echo "usage: make autograder LAB=NN DEST=DIR-or-FILE.zip"; exit 2; }
	$(PY) -m tools.autograder build --lab "$(LAB)" --dest "$(DEST)"

gradebook:  ## every GRADES/NN/summary.csv in one CSV for Canvas/Moodle: make gradebook GRADES=grades/
	@test -n "$(GRADES)" || { echo "usage: make gradebook GRADES=DIR [GRADEBOOK=FILE] [ROSTER=FILE]"; exit 2; }
	$(PY) -m tools gradebook --grades "$(GRADES)" $(if $(GRADEBOOK),--output "$(GRADEBOOK)") $(if $(ROSTER),--roster "$(ROSTER)")

# make data: download every tfds dataset of the full profile (network);
# make data DATASETS=fashion_mnist FROM=/usr/share/datasets/fashion-mnist: prepare it from the
# original idx files in FROM instead (Debian's dataset-fashion-mnist; MNIST's files likewise).
data:  ## prepare the full profile's datasets: make data [DATASETS="mnist …"] [FROM=DIR of idx files]
	$(PY) -m common.data $(if $(FROM),--from "$(FROM)") $(DATASETS)

# Colab's runtime (colab-constraints.txt) in a second virtualenv, Python 3.13 from pyenv where
# installed, else $(PYTHON). One pytest run (tests/colab_runtime.py), each notebook executed
# once: every lab's first contact as on Colab (the generated lab's setup cell fetching `common`
# from a local bare clone at the labs' ref, the known conflict installed and fixed in the same
# process, then the whole lab in the full profile, tfds mocked, one step), the control without
# the fix, the T4 path, and every solution in smoke (executed notebooks kept in
# build/colab-executed/, their first screen scanned for stderr).
COLAB_VENV ?= .venv-colab
COLAB_BIN := $(COLAB_VENV)/bin
PYENV_313 := $(shell command -v pyenv >/dev/null 2>&1 && echo "$$(pyenv root)/versions/3.13.0/bin/python")
COLAB_PYTHON ?= $(if $(and $(PYENV_313),$(wildcard $(PYENV_313))),$(PYENV_313),$(PYTHON))
# The test tools come pinned from requirements.txt, minus the packages Colab pins itself.
COLAB_TOOLS := importlib_resources nbformat nbclient nbval pytest pytest-xdist
COLAB_OTHER_PINS := awk 'NR==FNR { if ($$0 ~ /^[A-Za-z]/) { split($$1, a, "=="); pinned[tolower(a[1])] = 1 }; next } \
  /^[A-Za-z]/ { split($$1, a, "=="); if (!(tolower(a[1]) in pinned)) print $$1 }' colab-constraints.txt requirements.txt
# What the known fixes (common/colab.py) install, downloaded here so that the tests' kernels
# install it offline (PIP_NO_INDEX, PIP_FIND_LINKS), as Colab installs it from PyPI.
COLAB_WHEELS := build/colab-wheels
COLAB_FIXES := PYTHONPATH=$(CURDIR) $(COLAB_BIN)/python -c \
  'from common.colab import KNOWN_FIXES as k; print(*[f.install for f in k], sep="\n")'

test-colab:  ## every lab's first contact as on Colab, the full path (T4 too) and every solution in smoke, on Colab's runtime (.venv-colab)
	@echo "== Colab runtime in $(COLAB_VENV) with $(COLAB_PYTHON): $$($(COLAB_PYTHON) --version)"; \
	  $(COLAB_PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' || \
	  echo "== note: not Colab's Python 3.13 (no pyenv 3.13.0 here); the packages are Colab's"
	test -x $(COLAB_BIN)/python || $(COLAB_PYTHON) -m venv $(COLAB_VENV)
	$(if $(UV_PIN),$(COLAB_BIN)/pip install --quiet --disable-pip-version-check "$(UV_PIN)")
	$(call pip_install,$(COLAB_VENV),-c colab-constraints.txt -c <($(COLAB_OTHER_PINS)) \
	  $$(grep -oE '^[A-Za-z0-9_.-]+' colab-constraints.txt) $(COLAB_TOOLS))
	$(COLAB_BIN)/pip check
	$(COLAB_FIXES) | xargs -d '\n' $(COLAB_BIN)/pip download --quiet --disable-pip-version-check \
	  --no-deps -d $(COLAB_WHEELS)
	PYTHONPATH=$(CURDIR) COLAB_WHEELS=$(CURDIR)/$(COLAB_WHEELS) $(COLAB_BIN)/pytest \
	  -p no:cacheprovider -n $(FULL_JOBS) --durations=30 tests/colab_runtime.py
	@echo "make test-colab: all passed"

# Before the semester, on the students' kind of machine (a GPU and the network, or the data of
# `make data FROM=DIR`): make verify-full [LABS="03 08"] [LAB_PROFILE=smoke for a dry run]
verify-full:  ## every lab in the full profile here; each check's threshold, value, seconds → build/full-results.md
	$(PY) -m tools verify-full --profile "$${LAB_PROFILE:-full}" --cell-timeout 7200 $(LABS)

clean:
	rm -rf build .pytest_cache

# One notebook through the pipeline, for authors working beside each other:
#   make one NB=solutions/03_optimizers.ipynb
one:
	$(BIN)/ruff format $(NB)
	$(PY) -m tools format $(NB)
	$(PY) -m tools labs $(NB)
