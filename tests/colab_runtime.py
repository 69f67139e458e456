"""Tests that ``make test-colab`` runs in ``.venv-colab`` (Colab's published runtime), by name.

Not collected by ``make test`` (no ``test_`` prefix): they need Colab's package versions, and
the full profile's offline path, run twice more here (``make test-full-path`` runs it once on
the pinned versions), would not fit ``make test``'s budget.

* ``test_colab_protobuf_conflict_*``: on exactly Colab's versions, ``import
  tensorflow_datasets`` fails with protobuf's VersionError; ``common.data`` names it and prints
  one command; running that command makes the full profile load (mocked) data.
  It changes the virtualenv; ``make test-colab`` reinstalls Colab's set before it.
* ``test_full_profile_offline``: every solution's full-profile code path with mocked tfds, one
  training step, as on a CPU (``cpu``) and, for the labs whose ``setup()`` lets the device
  choose, as on a T4 with ``mixed_float16`` (``t4``).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from importlib import metadata

import pytest
from notebook_runner import ROOT, describe, run

COLAB = dict(
    line.split("==")
    for line in (ROOT / "colab-constraints.txt").read_text().splitlines()
    if line and not line.startswith("#")
)
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
ALLOWED_CHECK_ERRORS = {"AssertionError", "CheckFailure"}


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, cwd=ROOT
    )


def test_colab_protobuf_conflict_1_is_reproduced_and_named():
    installed = {name: metadata.version(name) for name in COLAB}
    assert installed == COLAB, "make test-colab installs colab-constraints.txt exactly"
    raw = _python("import tensorflow_datasets")
    assert "VersionError" in raw.stderr and "gencode 6.31.1 runtime 5.29.6" in raw.stderr
    named = _python(
        "import common.data as d\n"
        "try:\n    d.load('mnist', profile='full', verbose=False)\n"
        "except d.DatasetUnavailableError as err:\n    print(type(err).__name__); print(err)\n"
    )
    assert named.returncode == 0, named.stderr[-2000:]
    assert named.stdout.startswith("PackageConflictError"), named.stdout
    assert "offline" not in named.stdout and "not a network problem" in named.stdout
    (ROOT / "build").mkdir(exist_ok=True)
    (ROOT / "build" / "colab-conflict.txt").write_text(named.stdout)


def test_colab_protobuf_conflict_2_its_command_fixes_the_full_profile():
    message = (ROOT / "build" / "colab-conflict.txt").read_text()
    [command] = re.findall(r"^    (pip install .+)$", message, flags=re.M)
    args = shlex.split(command)
    proc = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert metadata.version("protobuf") == COLAB["protobuf"]  # Colab's TensorFlow keeps its own
    loaded = _python(
        "import tensorflow_datasets as tfds, common.data as d\n"
        "with tfds.testing.mock_data(num_examples=20):\n"
        "    x = d.load('mnist', profile='full', verbose=False)\n"
        "print(x.input_shape, len(x.x_test))\n"
    )
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert loaded.stdout.strip().endswith("(28, 28, 1) 20")


def _lets_device_choose(path) -> bool:
    """Its setup cell calls common.setup() without pinning float32: a T4 runs it mixed."""
    nb = json.loads(path.read_text())
    setup = [
        "".join(c["source"])
        for c in nb["cells"]
        if c.get("metadata", {}).get("course", {}).get("role") == "setup"
    ]
    return bool(setup) and not re.search(r"precision\s*=\s*['\"]float32['\"]", setup[0])


CASES = [pytest.param(p, None, id=f"{p.stem}-cpu") for p in SOLUTIONS] + [
    pytest.param(p, "mixed_float16", id=f"{p.stem}-t4") for p in SOLUTIONS if _lets_device_choose(p)
]


@pytest.mark.parametrize(("solution", "auto_precision"), CASES)
def test_full_profile_offline(solution, auto_precision, tmp_path):
    nb = json.loads(solution.read_text())
    if auto_precision:  # prove the T4 path was taken: some setup() chose mixed_float16
        nb["cells"].append(
            {
                "cell_type": "code",
                "execution_count": None,
                "id": "postlude",
                "metadata": {"course": {"role": "postlude"}},
                "outputs": [],
                "source": "import offline_full\n"
                "assert 'mixed_float16' in offline_full.CHOSEN_PRECISIONS, "
                "offline_full.CHOSEN_PRECISIONS",
            }
        )
    copy = ROOT / "build" / "colab" / solution.name  # its `..` is not the repository root
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text(json.dumps(nb))
    prelude = (
        f"import sys; sys.path[:0] = [{str(ROOT / 'tests')!r}, {str(ROOT)!r}]\n"
        f"import offline_full\noffline_full.activate(auto_precision={auto_precision!r})"
    )
    results = run(copy, prelude=prelude, timeout=300, env_profile="full")
    broken = [
        r
        for r in results
        if r.error and not (r.role == "check" and r.error in ALLOWED_CHECK_ERRORS)
    ]
    assert not broken, (
        f"{solution.name} in the full profile ({auto_precision or 'CPU'}):\n" + describe(broken)
    )


def test_setup_silences_scikit_learns_iprint_warning():
    """Lab 04's linear probes printed `Unknown solver options: iprint` on Colab's runtime."""
    fit = (
        "import warnings, numpy as np\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "x = np.random.rand(60, 4); y = np.arange(60) % 3\n"
        "LogisticRegression(max_iter=50).fit(x, y)\n"
    )
    before = _python("import warnings; warnings.simplefilter('default')\n" + fit)
    assert "Unknown solver options: iprint" in before.stderr  # the noise is real on this runtime
    after = _python(
        "import os, warnings; os.environ['LAB_PROFILE'] = 'smoke'; warnings.simplefilter('default')\n"
        "import common; common.setup(quiet=True)\n" + fit
    )
    assert after.returncode == 0, after.stderr[-2000:]
    assert "iprint" not in after.stderr


def test_no_cuinit_error_line_on_a_machine_without_gpu():
    """Colab's TensorFlow 2.20 logs a red `failed call to cuInit` at level 2; common sets 3 first."""
    import os

    environ = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    code = "import common, tensorflow as tf; print(tf.config.list_physical_devices('GPU'))"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=environ
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    if not os.path.exists("/dev/nvidiactl"):
        assert "cuInit" not in proc.stderr, proc.stderr[-2000:]
