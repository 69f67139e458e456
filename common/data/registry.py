"""The dataset registry and what every dataset returns: :class:`Data`, :func:`load`, :func:`fetch`.

A dataset family lives in its own module of this package and adds itself with
``@register(name, tfds_name=…)``; :func:`load` then finds it by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..colab import fix_for as _known_fix
from ..env import Profile
from ..env import profile as current_profile

SPLITS = ("train", "validation", "test")


class DatasetUnavailableError(RuntimeError):
    """A dataset could not be loaded in the full profile (offline, blocked download, …)."""


class PackageConflictError(DatasetUnavailableError):
    """tensorflow-datasets cannot even be imported: installed packages disagree, the network is fine.

    Seen on Colab's runtime (2026): ``tensorflow-metadata==1.21.0`` is generated with protobuf
    6.31.1 but the runtime has ``protobuf==5.29.6``, so ``import tensorflow_datasets`` raises
    protobuf's ``VersionError`` (tensorflow/metadata issue 68).
    """


# tensorflow-metadata's last releases generated for protobuf 5 (1.17.x) import on Colab's
# protobuf 5.29; 1.18 onwards need protobuf ≥ 6.31.1. The one list of such fixes is
# common.colab.KNOWN_FIXES, which the setup cell applies on Colab before anything imports them;
# this error names the same fix wherever it was not applied.
TFMETADATA_FOR_PROTOBUF5 = _known_fix("tensorflow-metadata").install


def import_tfds() -> Any:
    """``import tensorflow_datasets``, or a :class:`PackageConflictError` that names the fix."""
    try:
        import tensorflow_datasets as tfds

        if not hasattr(tfds, "load"):
            # tfds's __init__ logs a failure of its own imports and carries on without its
            # API; importing that API again raises the failure itself.
            import tensorflow_datasets.public_api  # noqa: F401
    except Exception as err:  # noqa: BLE001 - protobuf's VersionError is not an ImportError
        raise _import_failure(err) from err
    if not hasattr(tfds, "load"):
        raise DatasetUnavailableError(
            "tensorflow-datasets was imported without its API (no tfds.load); see the error "
            "it logged above. This is an installation problem, not a network one."
        )
    return tfds


def _import_failure(err: BaseException) -> BaseException:
    import re

    text = str(err)
    found = re.search(r"gencode (\S+) runtime (\S+)", text)
    if type(err).__name__ != "VersionError" or not found:
        return DatasetUnavailableError(
            f"tensorflow-datasets could not be imported ({type(err).__name__}: {err}). "
            "This is an installation problem, not a network one: install the course's "
            "requirements (pip install -r requirements.txt)."
        )
    gencode, runtime = (v.rstrip(".") for v in found.groups())
    where = re.search(r"when loading (\S+?)(?::|\.proto)", text)
    module = where.group(1) if where else "a generated protobuf module"
    if module.startswith("tensorflow_metadata") and int(runtime.split(".")[0]) < 6:
        fix = f'pip install -q "{TFMETADATA_FOR_PROTOBUF5}"'
    else:
        fix = f'pip install -q "protobuf>={gencode}"'
    return PackageConflictError(
        "tensorflow-datasets cannot be imported: a package conflict on this runtime, not a "
        f"network problem. {module} was generated with protobuf {gencode}, but the installed "
        f"protobuf is {runtime} (protobuf VersionError: runtime older than gencode; "
        "tensorflow/metadata issue 68). Fix it with this one command, then restart the "
        "runtime (Colab: Runtime → Restart session) and run the notebook again:\n"
        f"    {fix}\n"
        f"(in a notebook cell: %{fix})"
    )


@dataclass
class Data:
    """Arrays for the three splits plus what a notebook needs to know about them."""

    name: str
    source: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def title(self) -> str:
        """The name for plot titles: ``name``, marked when the data is a smoke stand-in."""
        return (
            f"{self.name} (smoke stand-in)"
            if self.source.startswith("smoke stand-in")
            else self.name
        )

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` of ``train``, ``validation`` or ``test``."""
        pairs = {
            "train": (self.x_train, self.y_train),
            "validation": (self.x_val, self.y_val),
            "test": (self.x_test, self.y_test),
        }
        if name not in pairs:
            raise ValueError(f"Unknown split {name!r}. Expected one of: {', '.join(SPLITS)}.")
        return pairs[name]

    def dataset(
        self, split: str, batch_size: int = 64, shuffle: bool | None = None, seed: int = 0
    ) -> Any:
        """A ``tf.data.Dataset`` of ``(x, y)`` batches; shuffled by default for ``train``."""
        x, y = self.split(split)
        return to_dataset(
            x, y, batch_size, shuffle=split == "train" if shuffle is None else shuffle, seed=seed
        )

    def __repr__(self) -> str:
        return (
            f"Data({self.name!r}: train {len(self.x_train)}, validation {len(self.x_val)}, "
            f"test {len(self.x_test)}; x {self.input_shape} {self.x_train.dtype}; "
            f"{self.num_classes} classes; source: {self.source})"
        )


def to_dataset(x: Any, y: Any, batch_size: int = 64, shuffle: bool = True, seed: int = 0) -> Any:
    """Arrays → cached, (shuffled), batched, prefetched ``tf.data.Dataset``."""
    import tensorflow as tf

    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, received {batch_size!r}.")
    ds = tf.data.Dataset.from_tensor_slices((x, y)).cache()
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


@dataclass(frozen=True)
class _Entry:
    loader: Callable[[Profile], Data]
    tfds_name: str | None  # what ``make data`` pre-fetches
    description: str


_REGISTRY: dict[str, _Entry] = {}


def register(name: str, *, tfds_name: str | None = None, description: str = "") -> Callable:
    """Decorator that adds a ``loader(profile) -> Data`` under ``name``."""

    def wrap(loader: Callable[[Profile], Data]) -> Callable[[Profile], Data]:
        _REGISTRY[name] = _Entry(loader, tfds_name, description)
        return loader

    return wrap


def names() -> list[str]:
    """The dataset names :func:`load` accepts."""
    return sorted(_REGISTRY)


def load(name: str, profile: Profile | str | None = None, verbose: bool = True) -> Data:
    """Load dataset ``name`` for the current (or the given) profile.

    Raises:
        ValueError: ``name`` is not a known dataset (the message lists the valid ones).
        DatasetUnavailableError: the full profile could not download the data.
    """
    if name not in _REGISTRY:
        raise ValueError(f"Unknown dataset {name!r}. Expected one of: {', '.join(names())}.")
    if profile is None:
        prof = current_profile()
    elif isinstance(profile, str):
        prof = Profile(profile)
        if profile not in ("full", "smoke"):
            raise ValueError(f"Unknown profile {profile!r}. Expected one of: full, smoke.")
    else:
        prof = profile
    data = _REGISTRY[name].loader(prof)
    if verbose:
        print(data)
    return data


def unavailable(name: str, err: BaseException) -> DatasetUnavailableError:
    """The actionable error for a tfds dataset that could not be loaded in the full profile."""
    return DatasetUnavailableError(
        f"Could not load {name!r} with tensorflow-datasets ({type(err).__name__}: {err}). "
        "If this machine is offline, run with LAB_PROFILE=smoke for the small offline data, "
        "or pre-fetch the datasets once while online with `make data` "
        "(python -m common.data)."
    )


def tfds_supervised(
    name: str, splits: dict[str, str], batch: int = 4096, map_fn: Any = None
) -> dict[str, tuple]:
    """Load ``{our_split: tfds_split}`` as NumPy ``(x, y)`` with an actionable error on failure.

    ``map_fn(image, label) -> (image, label)`` is applied per example before batching (used
    to resize photos of varying size to one shape).
    """
    tfds = import_tfds()
    try:
        out = {}
        for key, tfds_split in splits.items():
            ds = tfds.load(name, split=tfds_split, as_supervised=True)
            if map_fn is not None:
                ds = ds.map(map_fn)
            xs, ys = [], []
            for x, y in tfds.as_numpy(ds.batch(batch)):
                xs.append(x)
                ys.append(y)
            if not xs:
                raise ValueError(f"split {tfds_split!r} is empty")
            out[key] = (np.concatenate(xs), np.concatenate(ys).astype("int64"))
        return out
    except Exception as err:  # noqa: BLE001 - re-raised with what to do about it
        raise unavailable(name, err) from err


def check_count(name: str, value: Any, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer ≥ {low}, received {value!r}.")
    return int(value)


def read_idx_header(path: Any) -> tuple[int, ...]:
    """The shape an idx(.gz) file declares, after checking that its body holds exactly that.

    Raises:
        ValueError: not an idx file of unsigned bytes, or a body shorter/longer than declared.
    """
    import gzip
    import struct
    from pathlib import Path

    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            magic = f.read(4)
            if len(magic) < 4 or magic[:3] != b"\x00\x00\x08":
                raise ValueError(
                    f"{path.name} is not an idx file of unsigned bytes (magic {magic!r})"
                )
            shape = struct.unpack(f">{magic[3]}I", f.read(4 * magic[3]))
            body = 0
            while block := f.read(1 << 20):
                body += len(block)
    except (OSError, EOFError, struct.error) as err:
        raise ValueError(f"{path.name} cannot be read as an idx file: {err}") from err
    if body != int(np.prod(shape)):
        raise ValueError(
            f"{path.name} declares shape {shape} ({int(np.prod(shape))} bytes) but holds {body} bytes"
        )
    return shape


def prepare_from_folder(name: str, folder: Any, data_dir: Any = None) -> Any:
    """Prepare tfds dataset ``name`` from its original files in ``folder``, with no network.

    tensorflow-datasets' own builder writes the dataset (so ``tfds.load(name)`` and
    :func:`load` then work offline, unchanged); only the download is replaced: the builder's
    download manager is given ``folder`` as its manual-download directory and the checksums
    of the files found there. Those can differ from tfds's registered ones although the data
    are the same (Debian's ``dataset-fashion-mnist`` recompresses the ``.gz`` files), so the
    content is verified instead: every file must be an idx file whose body matches its header,
    images and labels must agree in count.

    Args:
        name: a registered dataset with a tfds name, e.g. ``fashion_mnist`` or ``mnist``.
        folder: the folder that holds the original files under tfds's file names.
        data_dir: tfds's data directory (default: tfds's own, i.e. ``TFDS_DATA_DIR`` or
            ``~/tensorflow_datasets``).

    Returns:
        The prepared ``tfds`` builder.

    Raises:
        ValueError: unknown dataset, or a folder without the expected files (the message
            names them), or files that are not what they should be.
    """
    import tempfile
    from pathlib import Path

    tfds = import_tfds()
    if name not in _REGISTRY or _REGISTRY[name].tfds_name is None:
        local = [n for n in names() if _REGISTRY[n].tfds_name in _LOCAL_IDX]
        raise ValueError(
            f"Cannot prepare {name!r} from local files. Expected one of: {', '.join(local)}."
        )
    tfds_name = _REGISTRY[name].tfds_name
    if tfds_name not in _LOCAL_IDX:
        raise ValueError(
            f"Cannot prepare {name!r} from local files: only idx datasets are supported. "
            f"Expected one of: {', '.join(sorted(_LOCAL_IDX))}."
        )
    folder = Path(folder).expanduser()
    builder = tfds.builder(tfds_name, data_dir=data_dir)
    registered = builder.url_infos or {}  # url → UrlInfo(size, checksum, filename)
    wanted = {url: info.filename for url, info in registered.items()}
    missing = sorted(f for f in wanted.values() if not (folder / f).is_file())
    if missing:
        raise ValueError(
            f"{name}: expected the {len(wanted)} files {', '.join(sorted(wanted.values()))} "
            f"in {str(folder)!r}; missing: {', '.join(missing)}."
        )
    shapes = {f: read_idx_header(folder / f) for f in wanted.values()}
    for images, labels in _LOCAL_IDX[tfds_name]:
        if shapes[images][1:] != (28, 28) or shapes[labels][0] != shapes[images][0]:
            raise ValueError(
                f"{name}: {images} holds shape {shapes[images]} and {labels} {shapes[labels]}; "
                "expected n images of 28×28 and n labels."
            )
    local = {
        url: tfds.download.checksums.compute_url_info(folder / fname)
        for url, fname in wanted.items()
    }
    same = all(local[url] == registered[url] for url in wanted)
    print(
        f"{name}: {', '.join(f'{f} {shapes[f]}' for f in sorted(wanted.values()))}; checksums "
        + (
            "match tfds's registered ones"
            if same
            else "differ from tfds's (recompressed files); content verified"
        )
    )

    def manager(download_dir: Any, download_config: Any) -> Any:
        return tfds.download.DownloadManager(
            download_dir=Path(download_dir),
            manual_dir=folder,
            url_infos=local,
            dataset_name=builder.name,
        )

    builder._make_download_manager = manager  # the one hook: tfds's manager, our files
    with tempfile.TemporaryDirectory(prefix=f"{tfds_name}-") as tmp:
        builder.download_and_prepare(
            download_dir=tmp,
            download_config=tfds.download.DownloadConfig(try_download_gcs=False),
        )
    print(f"{name}: prepared in {builder.data_dir}")
    return builder


# tfds datasets that :func:`prepare_from_folder` can prepare: (images, labels) file pairs.
_LOCAL_IDX = {
    tfds: [
        ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
        ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
    ]
    for tfds in ("mnist", "fashion_mnist")
}


def fetch(selected: list[str] | None = None) -> None:
    """Download and prepare the tfds datasets (all registered ones by default)."""
    tfds = import_tfds()

    wanted = selected or [n for n in names() if _REGISTRY[n].tfds_name]
    for name in wanted:
        if name not in _REGISTRY:
            raise ValueError(f"Unknown dataset {name!r}. Expected one of: {', '.join(names())}.")
        entry = _REGISTRY[name]
        if entry.tfds_name is None:
            print(f"{name}: ships with the project's dependencies, nothing to fetch")
            continue
        print(f"{name}: fetching tfds '{entry.tfds_name}' …", flush=True)
        tfds.builder(entry.tfds_name).download_and_prepare()
    print("done")
