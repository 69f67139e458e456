"""common.env: profiles, setup, precision choice, strategies, Colab hints."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import common
from common import env


def test_profile_defaults_to_full(monkeypatch):
    monkeypatch.delenv("LAB_PROFILE", raising=False)
    assert common.profile().name == "full"
    assert common.profile().full and not common.profile().smoke


@pytest.mark.parametrize("raw", ["smoke", " SMOKE ", "Smoke"])
def test_profile_reads_environment(monkeypatch, raw):
    monkeypatch.setenv("LAB_PROFILE", raw)
    assert common.profile().smoke


def test_unknown_profile_names_the_valid_ones(monkeypatch):
    monkeypatch.setenv("LAB_PROFILE", "fast")
    with pytest.raises(ValueError, match=r"Unknown LAB_PROFILE 'fast'.*full, smoke"):
        common.profile()


def test_pick_returns_the_profile_value():
    assert env.Profile("smoke").pick(full=10, smoke=2) == 2
    assert env.Profile("full").pick(full=10, smoke=2) == 10


def test_setup_prints_one_line_and_seeds(monkeypatch, capsys):
    monkeypatch.setenv("LAB_PROFILE", "smoke")
    cfg = common.setup(seed=3)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    assert out[0].startswith("TF ") and "Keras" in out[0] and "profile: smoke" in out[0]
    assert "1× CPU" in out[0] and "precision: float32" in out[0]
    assert cfg.profile.smoke and cfg.seed == 3 and cfg.device_kind == "CPU"
    assert cfg.pick(full=1, smoke=2) == 2
    first = np.random.rand(3)
    import tensorflow as tf

    tf_first = tf.random.uniform((3,)).numpy()
    common.setup(seed=3, quiet=True)  # safe to call twice, re-seeds
    np.testing.assert_array_equal(first, np.random.rand(3))
    np.testing.assert_array_equal(tf_first, tf.random.uniform((3,)).numpy())


def test_setup_float32_precision_and_bad_precision(monkeypatch):
    monkeypatch.setenv("LAB_PROFILE", "smoke")
    cfg = common.setup(precision="float32", quiet=True)
    assert cfg.precision == "float32"
    import keras

    assert keras.mixed_precision.global_policy().name == "float32"
    with pytest.raises(ValueError, match="Unknown precision 'half'"):
        common.setup(precision="half", quiet=True)


@pytest.mark.parametrize(
    ("caps", "expected"),
    [
        ([], "float32"),  # CPU
        ([(6, 1)], "float32"),  # Pascal: no tensor cores
        ([(7, 5)], "mixed_float16"),  # T4
        ([(8, 0), (8, 0)], "mixed_float16"),  # A100s
        ([(7, 0), (6, 0)], "float32"),  # one old GPU drags the rest
    ],
)
def test_auto_precision_follows_compute_capability(caps, expected):
    assert env.choose_precision("auto", caps) == expected
    assert env.choose_precision("float32", caps) == "float32"


def test_colab_without_gpu_prints_the_menu_hint(monkeypatch, capsys):
    monkeypatch.setenv("LAB_PROFILE", "smoke")
    monkeypatch.setattr(env, "is_colab", lambda: True)
    cfg = common.setup()
    assert cfg.colab
    assert "Runtime → Change runtime type" in capsys.readouterr().out


def test_is_colab_detects_the_runtime(monkeypatch):
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert not common.is_colab()
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab_20261101")
    assert common.is_colab()


def test_default_strategy_on_one_cpu():
    import tensorflow as tf

    strategy = common.strategy()
    assert strategy.num_replicas_in_sync == 1
    assert not isinstance(strategy, tf.distribute.MirroredStrategy)


def test_strategy_mirrors_over_several_gpus(monkeypatch):
    import tensorflow as tf

    class Dev:
        def __init__(self, name):
            self.name = name

    seen = {}
    monkeypatch.setattr(
        tf.config,
        "list_logical_devices",
        lambda kind=None: [Dev("/GPU:0"), Dev("/GPU:1")] if kind == "GPU" else [],
    )
    monkeypatch.setattr(
        tf.distribute, "MirroredStrategy", lambda devices: seen.setdefault("devices", devices)
    )
    monkeypatch.setattr(env, "_tpu_present", lambda: False)
    common.strategy()
    assert seen["devices"] == ["/GPU:0", "/GPU:1"]


def test_mirrored_strategy_on_two_logical_cpus_trains():
    """A real MirroredStrategy over two logical CPU devices (needs a fresh TF runtime).

    The same fresh runtime shows that ``import common`` before TensorFlow sets
    ``TF_CPP_MIN_LOG_LEVEL`` in time: no red ``failed call to cuInit`` line on a CPU machine.
    """
    code = textwrap.dedent(
        """
        import os
        os.environ["LAB_PROFILE"] = "smoke"
        import common
        print("TF_CPP_MIN_LOG_LEVEL", os.environ["TF_CPP_MIN_LOG_LEVEL"])
        import numpy as np, tensorflow as tf, keras
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        common.setup(quiet=True)
        names = [d.name for d in tf.config.list_logical_devices("CPU")]
        assert len(names) == 2, names
        strategy = common.strategy(devices=names)
        assert isinstance(strategy, tf.distribute.MirroredStrategy), type(strategy)
        assert strategy.num_replicas_in_sync == 2
        with strategy.scope():
            model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
            model.compile("sgd", "mse")
        x = np.ones((32, 4), "float32")
        h = model.fit(x, x[:, :1], batch_size=16, epochs=1, verbose=0)
        assert np.isfinite(h.history["loss"][0])
        print("OK", strategy.num_replicas_in_sync)
        """
    )
    import os

    environ = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=240, env=environ
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "OK 2" in proc.stdout
    level = "2" if os.path.exists("/dev/nvidiactl") else "3"
    assert f"TF_CPP_MIN_LOG_LEVEL {level}" in proc.stdout
    if level == "3":
        assert "cuInit" not in proc.stderr, proc.stderr[-3000:]


def test_auto_precision_can_be_forced_to_take_a_t4_path_on_cpu(monkeypatch):
    monkeypatch.setenv("LAB_AUTO_PRECISION", "mixed_float16")
    assert env.choose_precision("auto", []) == "mixed_float16"  # what a T4 gets
    assert env.choose_precision("float32", [(7, 5)]) == "float32"  # explicit stays, as on a T4
    monkeypatch.setenv("LAB_AUTO_PRECISION", "float32")
    assert env.choose_precision("auto", [(7, 5)]) == "float32"
    monkeypatch.setenv("LAB_AUTO_PRECISION", "fp16")
    with pytest.raises(ValueError, match=r"Unknown LAB_AUTO_PRECISION 'fp16'.*mixed_float16"):
        env.choose_precision("auto", [])


def test_setup_applies_the_forced_mixed_policy(monkeypatch):
    import keras

    monkeypatch.setenv("LAB_PROFILE", "smoke")
    monkeypatch.setenv("LAB_AUTO_PRECISION", "mixed_float16")
    try:
        cfg = common.setup(quiet=True)
        assert cfg.precision == "mixed_float16"
        assert keras.mixed_precision.global_policy().name == "mixed_float16"
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_setup_splits_the_cpu_into_logical_devices():
    """setup(logical_cpus=2) before TensorFlow starts gives two CPUs and a 2-replica strategy."""
    code = textwrap.dedent(
        """
        import os, warnings
        os.environ["LAB_PROFILE"] = "smoke"
        import common
        cfg = common.setup(quiet=True, logical_cpus=2)
        assert cfg.devices == ("/device:CPU:0", "/device:CPU:1"), cfg.devices
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            common.setup(quiet=True, logical_cpus=2)  # a second call with the same split is silent
        strategy = common.strategy(devices=list(cfg.devices))
        import gc  # Keras was imported with the collector paused, its objects then frozen
        assert gc.isenabled() and gc.get_freeze_count() > 100_000, gc.get_freeze_count()
        print("OK", strategy.num_replicas_in_sync)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "OK 2" in proc.stdout


def test_a_failed_framework_import_turns_the_garbage_collector_back_on(monkeypatch):
    import gc

    class BrokenKeras:  # Keras not imported yet, and its import fails (a broken install)
        def find_spec(self, name, path=None, target=None):
            if name == "keras":
                raise ImportError("keras is broken here")

    monkeypatch.delitem(sys.modules, "keras", raising=False)
    monkeypatch.setattr(sys, "meta_path", [BrokenKeras(), *sys.meta_path])
    try:
        with pytest.raises(ImportError, match="broken here"):
            env._import_frameworks()
        assert gc.isenabled()
    finally:
        gc.unfreeze()


def test_split_cpu_rejects_bad_counts_and_warns_once_started():
    import tensorflow as tf

    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match=r"logical_cpus must be a positive integer, received"):
            env.split_cpu(bad)
    tf.constant(1.0) + 1  # the runtime is initialised now
    have = len(tf.config.list_logical_devices("CPU"))
    with pytest.warns(UserWarning, match=r"logical_cpus=\d+ ignored.*Restart the kernel"):
        assert env.split_cpu(have + 2) is False


# --------------------------------------------------------------------------- known fixes (issue 26)

from common import colab  # noqa: E402


def test_common_colab_imports_no_tensorflow_protobuf_or_tfds():
    """The setup cell imports it before applying the fixes: it must import none of them."""
    code = (
        "import sys, common.colab\n"
        "heavy = [m for m in ('tensorflow', 'tensorflow_metadata', 'tensorflow_datasets', "
        "'google.protobuf', 'keras') if m in sys.modules]\n"
        "print(heavy)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


def _conflict(monkeypatch, tfmd="1.21.0", protobuf="5.29.6"):
    versions = {"tensorflow-metadata": tfmd, "protobuf": protobuf}
    monkeypatch.setattr(colab, "_installed", versions.get)
    calls = []

    def fake_run(args, **kwargs):
        calls.append(args)
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(colab.subprocess, "run", fake_run)
    monkeypatch.delenv(colab.DISABLE_ENV, raising=False)
    return calls


def test_known_fix_installs_the_compatible_package_on_colab_only(monkeypatch):
    calls = _conflict(monkeypatch)
    for name in ("tensorflow_metadata", "tensorflow_datasets"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    assert colab.fix_known_conflicts(colab=False) == [] and calls == []
    [fix] = colab.fix_known_conflicts(colab=True)
    assert fix.install == "tensorflow-metadata<1.18" and "issue 26" in fix.issue
    [args] = calls
    assert args[:4] == [sys.executable, "-m", "pip", "install"] and "--quiet" in args
    assert args[-1] == "tensorflow-metadata<1.18"


@pytest.mark.parametrize(
    ("tfmd", "protobuf"), [("1.17.3", "5.29.6"), ("1.21.0", "6.31.1"), ("1.21.0", "7.36.2")]
)
def test_known_fix_leaves_compatible_versions_alone(monkeypatch, tfmd, protobuf):
    calls = _conflict(monkeypatch, tfmd, protobuf)
    assert colab.fix_known_conflicts(colab=True) == [] and calls == []


def test_known_fix_can_be_disabled_and_refuses_when_too_late(monkeypatch):
    calls = _conflict(monkeypatch)
    monkeypatch.setenv(colab.DISABLE_ENV, "off")
    assert colab.fix_known_conflicts(colab=True) == [] and calls == []
    monkeypatch.delenv(colab.DISABLE_ENV)
    monkeypatch.setitem(sys.modules, "tensorflow_metadata", object())
    with pytest.raises(colab.FixError, match="Restart the runtime"):
        colab.fix_known_conflicts(colab=True)
    assert calls == []


def test_failed_fix_names_the_command(monkeypatch):
    _conflict(monkeypatch)
    monkeypatch.delitem(sys.modules, "tensorflow_metadata", raising=False)
    monkeypatch.delitem(sys.modules, "tensorflow_datasets", raising=False)
    monkeypatch.setattr(
        colab.subprocess,
        "run",
        lambda args, **kw: subprocess.CompletedProcess(args, 1, "", "No matching distribution"),
    )
    with pytest.raises(colab.FixError, match=r'%pip install "tensorflow-metadata<1.18"'):
        colab.fix_known_conflicts(colab=True)


def test_data_error_names_the_fix_from_the_same_list():
    from common.data import registry

    assert registry.TFMETADATA_FOR_PROTOBUF5 == colab.fix_for("tensorflow-metadata").install


# --------------------------------------------------------------------------- finding `common`


def _bootstrap() -> str:
    """The setup cell's part that finds `common`, from a generated lab (as shipped)."""
    from tools import notebooks

    lab = notebooks.read(sorted((notebooks.ROOT / "labs").glob("*.ipynb"))[0])
    setup = next(notebooks.source(c) for c in lab["cells"] if notebooks.role(c) == "setup")
    return setup.split("from common import colab")[0]


@pytest.mark.parametrize("where", ["", "labs", "solutions"])
def test_setup_cell_finds_common_from_the_repository_labs_and_solutions(where):
    from tools import notebooks

    code = _bootstrap() + "print(sys.path[0])"
    done = subprocess.run(
        [sys.executable, "-S", "-c", code],  # -S: no site-packages, so not the installed one
        cwd=notebooks.ROOT / where,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(notebooks.ROOT)


def test_setup_cell_finds_an_installed_common_from_anywhere(tmp_path):
    code = _bootstrap() + "import common.colab; print('found')"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.strip() == "found", done.stderr


def test_setup_cell_without_common_says_where_it_looked_and_the_fix(tmp_path):
    done = subprocess.run(
        [sys.executable, "-S", "-c", _bootstrap()], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("ModuleNotFoundError: The course's helper package `common`")
    assert str(tmp_path) in last and "/content/course" in last
    assert '%pip install "git+https://github.com/deep-learning-labs/keras-course@main"' in last


def test_an_attention_layer_called_with_scores_can_be_called_again_symbolically():
    """Keras < 3.14 (Colab's) kept return_attention_scores=True and broke the next symbolic call
    of the same layer (lab 07's step model reuses the trained attention): setup() fixes that."""
    import keras

    env._fix_sticky_attention_scores(keras)
    layer = keras.layers.AdditiveAttention()
    query, value = keras.Input((1, 4)), keras.Input((None, 4))
    mask = keras.Input((None,), dtype="bool")
    context, scores = layer([query, value], return_attention_scores=True)
    layer(
        [np.ones((2, 1, 4), "float32"), np.ones((2, 3, 4), "float32")], return_attention_scores=True
    )
    assert tuple(layer([query, value], mask=[None, mask]).shape) == (None, 1, 4)
    assert tuple(scores.shape) == (None, 1, None)
