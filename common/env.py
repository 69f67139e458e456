"""Environment: the run profile, seeding, devices, precision and distribution strategy.

Every notebook's setup cell calls :func:`setup`, which prints one line such as::

    TF 2.21.0 · Keras 3.13.2 · devices: 1× CPU · profile: smoke · precision: float32 · seed: 0

TensorFlow is imported lazily so that ``import common`` stays cheap for the tools and tests.
"""

from __future__ import annotations

import os
import random
import warnings
from dataclasses import dataclass, field
from typing import Any, TypeVar

# Quiet TensorFlow's C++ start-up chatter unless the user asked for it. It must be set before
# TensorFlow is first imported (it is read once, by the C++ runtime). On a machine without an
# NVIDIA driver, level 3 also hides the red `failed call to cuInit` line that TensorFlow's CUDA
# build logs at ERROR level on start-up; with a GPU present, level 2 keeps real C++ errors.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2" if os.path.exists("/dev/nvidiactl") else "3")

PROFILES = ("full", "smoke")
PRECISIONS = ("auto", "float32", "mixed_float16")
# What ``precision="auto"`` resolves to when set, instead of asking the GPUs: the tests set it
# to ``mixed_float16`` to run a notebook on CPU along the path it takes on a T4.
AUTO_PRECISION_ENV = "LAB_AUTO_PRECISION"
COLAB_NO_GPU_HINT = (
    "No GPU found. On Colab choose Runtime → Change runtime type → T4 GPU, "
    "then run the notebook again from the top."
)

T = TypeVar("T")


@dataclass(frozen=True)
class Profile:
    """Which sizes and data sources a notebook uses.

    ``full`` is what a student runs on Colab (real datasets, full epochs, a GPU expected);
    ``smoke`` is the offline CPU profile that ``make test`` and CI run.
    """

    name: str

    @property
    def smoke(self) -> bool:
        return self.name == "smoke"

    @property
    def full(self) -> bool:
        return self.name == "full"

    def pick(self, *, full: T, smoke: T) -> T:
        """Return the value for this profile: ``EPOCHS = cfg.profile.pick(full=15, smoke=3)``."""
        return smoke if self.smoke else full

    def __str__(self) -> str:
        return self.name


def profile() -> Profile:
    """Read ``LAB_PROFILE`` (default ``full``).

    Raises:
        ValueError: for any value other than ``full`` or ``smoke``.
    """
    raw = os.environ.get("LAB_PROFILE", "full")
    name = raw.strip().lower() or "full"
    if name not in PROFILES:
        raise ValueError(
            f"Unknown LAB_PROFILE {raw!r}. Expected one of: {', '.join(PROFILES)} "
            "(full: real data on Colab; smoke: small offline data for tests)."
        )
    return Profile(name)


def is_colab() -> bool:
    """True inside a Google Colab runtime (``google.colab`` importable)."""
    from .colab import on_colab

    return on_colab()


@dataclass(frozen=True)
class Config:
    """What :func:`setup` decided; notebooks read sizes from ``cfg.profile``."""

    profile: Profile
    seed: int
    device_kind: str  # "TPU", "GPU" or "CPU"
    devices: tuple[str, ...]
    precision: str  # "float32" or "mixed_float16"
    colab: bool
    versions: dict[str, str] = field(default_factory=dict)

    def pick(self, *, full: T, smoke: T) -> T:
        """Shortcut for ``cfg.profile.pick``."""
        return self.profile.pick(full=full, smoke=smoke)

    def summary(self) -> str:
        devices = f"{len(self.devices)}× {self.device_kind}"
        return (
            f"TF {self.versions.get('tensorflow', '?')} · Keras {self.versions.get('keras', '?')} · "
            f"devices: {devices} · profile: {self.profile} · precision: {self.precision} · "
            f"seed: {self.seed}"
        )


def seed_everything(seed: int = 0) -> None:
    """Seed Python's ``random``, NumPy, TensorFlow and Keras in one call."""
    import keras

    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    keras.utils.set_random_seed(seed)  # seeds Python, NumPy and the backend (TensorFlow)


def _gpu_capabilities(tf: Any) -> list[tuple[int, int]]:
    caps = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        caps.append(tuple(details.get("compute_capability", (0, 0))))
    return caps


def _enable_memory_growth(tf: Any) -> None:
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            # The runtime is already initialised (setup() called twice): the first call won.
            pass


def choose_precision(precision: str, capabilities: list[tuple[int, int]]) -> str:
    """Resolve ``auto``: mixed precision only when every GPU has compute capability ≥ 7.0.

    ``LAB_AUTO_PRECISION`` (``float32`` or ``mixed_float16``), when set, is what ``auto``
    resolves to whatever the devices: ``LAB_AUTO_PRECISION=mixed_float16`` takes a T4's path
    on a CPU. An explicit ``float32`` or ``mixed_float16`` is never overridden, as on a T4.
    """
    if precision not in PRECISIONS:
        raise ValueError(
            f"Unknown precision {precision!r}. Expected one of: {', '.join(PRECISIONS)}."
        )
    if precision != "auto":
        return precision
    forced = os.environ.get(AUTO_PRECISION_ENV, "").strip()
    if forced:
        if forced not in PRECISIONS[1:]:
            raise ValueError(
                f"Unknown {AUTO_PRECISION_ENV} {forced!r}. "
                f"Expected one of: {', '.join(PRECISIONS[1:])} (or unset: ask the GPUs)."
            )
        return forced
    if capabilities and all(cap >= (7, 0) for cap in capabilities):
        return "mixed_float16"
    return "float32"


def split_cpu(count: int) -> bool:
    """Split the CPU into ``count`` logical devices, so a ``MirroredStrategy`` can be tried on a laptop.

    TensorFlow allows this only before it initialises its devices (its first op or device
    query), so :func:`setup` calls it first when given ``logical_cpus``. Returns ``True`` when the
    CPU now has ``count`` logical devices; warns and returns ``False`` when the runtime had
    already started with another split (restart the kernel to change it).

    Raises:
        ValueError: ``count`` is not a positive integer.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"logical_cpus must be a positive integer, received {count!r}.")
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is not None and len(current) == count:
        return True
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * count
        )
    except RuntimeError:
        have = len(tf.config.list_logical_devices("CPU"))
        warnings.warn(
            f"logical_cpus={count} ignored: TensorFlow had already initialised its devices "
            f"({have} logical CPU). Restart the kernel and run the setup cell first.",
            stacklevel=2,
        )
        return False
    return True


def _import_frameworks() -> tuple[Any, Any]:
    """Import Keras and TensorFlow; the first time, with Python's garbage collector paused.

    Their import makes about 600,000 objects that live as long as the process (modules, op
    wrappers, protobuf descriptors), and no garbage: the collector's passes over them are about
    a sixth of the import's CPU time (0.7 s of 4 s on a course VM). ``gc.freeze()`` then keeps
    them out of every later full collection, so those scan only the notebook's own objects.
    """
    import gc
    import sys

    if "keras" not in sys.modules or "tensorflow" not in sys.modules:
        enabled = gc.isenabled()
        gc.disable()
        try:
            import keras  # noqa: F401
            import tensorflow  # noqa: F401
        finally:
            gc.freeze()
            if enabled:
                gc.enable()
    import keras
    import tensorflow as tf

    return keras, tf


def setup(
    seed: int = 0, precision: str = "auto", quiet: bool = False, logical_cpus: int | None = None
) -> Config:
    """Prepare a notebook: seed everything, configure devices and precision, print one line.

    Args:
        seed: seeds Python, NumPy, TensorFlow and Keras.
        precision: ``auto`` (mixed float16 on GPUs with compute capability ≥ 7.0, float32 on
            CPU/TPU; ``LAB_AUTO_PRECISION`` overrides that choice), ``float32`` or
            ``mixed_float16``. Labs that match hand-written maths
            against Keras to 1e-5 pass ``float32``; that also turns TensorFloat-32 off, which
            would otherwise round matrix products on Ampere GPUs.
        quiet: do not print the summary line.
        logical_cpus: split the CPU into this many logical devices (see :func:`split_cpu`),
            so that a ``MirroredStrategy`` with several replicas exists on any machine. Must
            come before TensorFlow's first op, which the setup cell is.

    Op determinism stays off: seeds already make CPU runs repeatable, deterministic GPU
    kernels slow training down, and some ops (e.g. several scatter/segment kernels) raise
    instead of running. The labs' checks use thresholds with margins, not exact values.

    Safe to call more than once; later calls re-seed and re-apply the precision policy.
    """
    keras, tf = _import_frameworks()

    prof = profile()
    if logical_cpus is not None:
        split_cpu(logical_cpus)
    # Keras warns on every fit() with a tf.data.Dataset that its shuffle flag is ignored;
    # the course's datasets are shuffled by common.data already, so the warning is noise.
    warnings.filterwarnings("ignore", message=r"`shuffle=True` was passed")
    # scikit-learn < 1.7 passes `iprint` to SciPy's L-BFGS-B, which newer SciPy no longer takes:
    # every LogisticRegression fit on Colab's runtime warns "Unknown solver options: iprint".
    warnings.filterwarnings("ignore", message=r"Unknown solver options: iprint")
    _fix_sticky_attention_scores(keras)
    _enable_memory_growth(tf)
    chosen = choose_precision(precision, _gpu_capabilities(tf))
    keras.mixed_precision.set_global_policy(chosen)
    if chosen == "float32" and precision == "float32":
        tf.config.experimental.enable_tensor_float_32_execution(False)
    seed_everything(seed)

    tpus = tf.config.list_logical_devices("TPU")
    gpus = tf.config.list_logical_devices("GPU")
    kind, devices = ("TPU", tpus) if tpus else ("GPU", gpus) if gpus else ("CPU", [])
    if kind == "CPU":
        devices = tf.config.list_logical_devices("CPU")
    cfg = Config(
        profile=prof,
        seed=seed,
        device_kind=kind,
        devices=tuple(d.name for d in devices),
        precision=chosen,
        colab=is_colab(),
        versions={"tensorflow": tf.__version__, "keras": keras.__version__},
    )
    if not quiet:
        print(cfg.summary())
        if cfg.colab and kind == "CPU":
            print(COLAB_NO_GPU_HINT)
    return cfg


def _fix_sticky_attention_scores(keras) -> None:
    """Keras < 3.14 (Colab's 3.13) keeps ``return_attention_scores=True`` from one call of an
    ``Attention``/``AdditiveAttention`` layer (``self._return_attention_scores``) and then fails
    on the next symbolic call without it ("Cannot convert '((None, 1, 128), …)' to a shape"):
    lab 07 reuses its trained attention layer in a step model. Later Keras dropped the flag;
    here a symbolic call clears it first (the spec adds the scores from its own argument, and
    ``call`` sets the flag from its argument anyway)."""
    from keras.src.layers.attention.attention import Attention

    original = Attention.compute_output_spec
    if getattr(original, "_course_fixed", False):
        return
    if "_return_attention_scores" not in Attention.compute_output_shape.__code__.co_names:
        return  # a Keras without the sticky flag

    def compute_output_spec(self, inputs, mask=None, return_attention_scores=False, **kwargs):
        self._return_attention_scores = False  # the spec adds the scores from its own argument
        return original(
            self, inputs, mask=mask, return_attention_scores=return_attention_scores, **kwargs
        )

    compute_output_spec._course_fixed = True
    Attention.compute_output_spec = compute_output_spec


def _tpu_present() -> bool:
    return bool(
        os.environ.get("COLAB_TPU_ADDR")
        or os.environ.get("TPU_NAME")
        or os.path.exists("/dev/accel0")  # TPU VM runtimes
    )


def strategy(devices: list[str] | None = None) -> Any:
    """The ``tf.distribute`` strategy for this runtime.

    * a TPU runtime → ``TPUStrategy``;
    * more than one GPU (or an explicit list of more than one device) → ``MirroredStrategy``;
    * otherwise the default strategy (one device, no-op scope).

    Args:
        devices: optional device names to mirror over, e.g. two logical CPUs in a test.
    """
    import tensorflow as tf

    if devices is not None:
        if len(devices) > 1:
            return tf.distribute.MirroredStrategy(devices=list(devices))
        return tf.distribute.get_strategy()
    if _tpu_present():
        tpu = "local" if os.path.exists("/dev/accel0") else ""
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy(devices=[g.name for g in gpus])
    return tf.distribute.get_strategy()
