"""common.data: registry, splits, smoke stand-ins, the tfds path (mocked) and its errors."""

from __future__ import annotations

import numpy as np
import pytest

from common import data
from common.data import registry
from common.data.registry import _REGISTRY


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(ValueError, match=r"Unknown dataset 'mnsit'\. Expected one of: .*mnist"):
        data.load("mnsit")


def test_unknown_profile_argument():
    with pytest.raises(ValueError, match="Unknown profile 'fast'"):
        data.load("digits", profile="fast")


def test_digits_splits_are_disjoint_stratified_and_scaled():
    d = data.load("digits", profile="smoke", verbose=False)
    assert d.input_shape == (8, 8, 1) and d.num_classes == 10
    assert len(d.x_train) + len(d.x_val) + len(d.x_test) == 1797
    assert 0.0 <= d.x_train.min() and d.x_train.max() <= 1.0 and d.x_train.dtype == np.float32
    assert d.title == "digits"  # real data keeps its plain name
    for y in (d.y_train, d.y_val, d.y_test):
        assert set(np.unique(y)) == set(range(10))
    rows = {x.tobytes() for x in d.x_train}
    overlap = sum(x.tobytes() in rows for x in d.x_test)
    assert overlap <= 2  # the digits set itself holds a few identical images


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_smoke_stand_in_has_the_real_shape_and_says_so(name, capsys):
    d = data.load(name, profile="smoke")
    assert d.input_shape == (28, 28, 1) and d.num_classes == 10
    assert "smoke stand-in" in d.source and "smoke stand-in" in capsys.readouterr().out
    assert d.title == f"{d.name} (smoke stand-in)"  # plot titles do not pass it off as the real one


@pytest.mark.parametrize(
    ("name", "first_class"), [("mnist", "0"), ("fashion_mnist", "T-shirt/top")]
)
def test_full_profile_loads_through_tfds(name, first_class):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=40):
        d = data.load(name, profile="full", verbose=False)
    assert d.input_shape == (28, 28, 1) and d.x_train.dtype == np.float32
    assert d.x_train.max() <= 1.0 and len(d.x_test) == 40
    assert d.class_names[0] == first_class and "tensorflow-datasets" in d.source


@pytest.mark.parametrize(
    "name",
    [n for n in data.names() if _REGISTRY[n].tfds_name],  # every tfds-backed dataset
)
def test_full_profile_download_failure_is_actionable(monkeypatch, name):
    import tensorflow_datasets as tfds

    def offline(*args, **kwargs):
        raise ConnectionError("Failed to resolve 'storage.googleapis.com'")

    monkeypatch.setattr(tfds, "load", offline)
    with pytest.raises(data.DatasetUnavailableError) as err:
        data.load(name, profile="full", verbose=False)
    message = str(err.value)
    assert f"'{name}'" in message and "ConnectionError" in message
    assert "LAB_PROFILE=smoke" in message and "make data" in message


TRAIN_VAL_TEST = ("train[:90%]", "train[90%:]", "test")
SPLITS_ASKED = {  # what the full profile asks tensorflow-datasets for, per dataset
    "mnist": TRAIN_VAL_TEST,
    "fashion_mnist": TRAIN_VAL_TEST,
    "imdb_reviews": TRAIN_VAL_TEST,
    "tf_flowers": ("train[:80%]", "train[80%:90%]", "train[90%:]"),  # it has one split only
    "spoken_digit": ("train",),  # one split; common.data splits it by speaker
}


def test_every_tfds_dataset_is_covered_below():
    assert {n for n in data.names() if _REGISTRY[n].tfds_name} == set(SPLITS_ASKED)


@pytest.mark.parametrize(("name", "splits"), SPLITS_ASKED.items())
def test_full_profile_asks_tfds_for_these_splits(monkeypatch, name, splits):
    import tensorflow_datasets as tfds

    assert _REGISTRY[name].tfds_name == name  # so that `make data` fetches it
    requested = []
    real_load = tfds.load

    def spy(dataset, split, **kwargs):
        requested.append((dataset, split))
        return real_load(dataset, split=split, **kwargs)

    monkeypatch.setattr(tfds, "load", spy)
    with tfds.testing.mock_data(num_examples=4):
        data.load(name, profile="full", verbose=False)
    assert requested == [(name, split) for split in splits]


def test_dataset_pipeline_batches_and_shuffles():
    d = data.load("digits", profile="smoke", verbose=False)
    ds = d.dataset("train", batch_size=100)
    x, y = next(iter(ds))
    assert x.shape == (100, 8, 8, 1) and y.shape == (100,)
    test_batches = [b[1].numpy() for b in d.dataset("test", batch_size=100)]
    np.testing.assert_array_equal(np.concatenate(test_batches), d.y_test)  # not shuffled
    with pytest.raises(ValueError, match="Unknown split 'dev'"):
        d.dataset("dev")
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        data.to_dataset(d.x_train, d.y_train, batch_size=0)


def test_repr_summarises():
    d = data.load("digits", profile="smoke", verbose=False)
    assert "train 1078" in repr(d) and "10 classes" in repr(d)


def test_fetch_rejects_unknown_names():
    with pytest.raises(ValueError, match="Unknown dataset 'nope'"):
        data.fetch(["nope"])


IDX_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def write_idx(folder, n_train=20, n_test=5, seed=0):
    """Small idx files in MNIST's format: images (n, 28, 28) and labels (n,), gzipped."""
    import gzip
    import struct

    rng = np.random.default_rng(seed)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        arrays[prefix] = (images, labels)
        for kind, arr in (("images-idx3", images), ("labels-idx1", labels)):
            header = bytes([0, 0, 8, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
            with gzip.open(folder / f"{prefix}-{kind}-ubyte.gz", "wb") as f:
                f.write(header + arr.tobytes())
    return arrays


@pytest.mark.parametrize("name", ["fashion_mnist", "mnist"])
def test_prepare_from_local_idx_files_then_full_profile_loads_them(
    tmp_path, monkeypatch, name, capsys
):
    """`make data FROM=DIR`: tfds's own builder writes the dataset; tfds.load reads it offline."""
    import tensorflow_datasets as tfds
    from tensorflow_datasets.image_classification import mnist as tfds_mnist

    # tfds's builder reads exactly 60,000/10,000 examples; the test's files are smaller.
    monkeypatch.setattr(tfds_mnist, "_TRAIN_EXAMPLES", 20)
    monkeypatch.setattr(tfds_mnist, "_TEST_EXAMPLES", 5)
    src = tmp_path / "idx"
    src.mkdir()
    arrays = write_idx(src)

    def no_network(*args, **kwargs):
        raise AssertionError("prepare_from_folder tried to download")

    from tensorflow_datasets.core.download import downloader

    monkeypatch.setattr(downloader._Downloader, "download", no_network)
    registry.prepare_from_folder(name, src, data_dir=tmp_path / "tfds")
    assert "content verified" in capsys.readouterr().out  # our files are not tfds's originals

    real_load = tfds.load
    monkeypatch.setattr(
        tfds, "load", lambda *a, **k: real_load(*a, data_dir=tmp_path / "tfds", download=False, **k)
    )
    d = data.load(name, profile="full", verbose=False)
    assert (len(d.x_train), len(d.x_val), len(d.x_test)) == (18, 2, 5)  # train[:90%], [90%:]
    got = sorted(d.x_test.reshape(5, -1).sum(1).round(3))
    want = sorted((arrays["t10k"][0].reshape(5, -1) / 255.0).sum(1).round(3))
    np.testing.assert_allclose(got, want, atol=1e-3)  # the files' pixels, maybe reordered
    assert sorted(d.y_test) == sorted(arrays["t10k"][1])


def test_prepare_from_a_wrong_folder_names_the_four_files(tmp_path):
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"")
    with pytest.raises(ValueError) as err:
        registry.prepare_from_folder("fashion_mnist", tmp_path, data_dir=tmp_path / "tfds")
    message = str(err.value)
    for name in IDX_FILES:
        assert name in message
    assert "missing: t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz, train-labels" in message
    with pytest.raises(ValueError, match=r"Cannot prepare 'digits'.*Expected one of: .*mnist"):
        registry.prepare_from_folder("digits", tmp_path)


def test_prepare_rejects_files_that_are_not_idx(tmp_path):
    import gzip

    from common.data.registry import read_idx_header

    write_idx(tmp_path)
    assert read_idx_header(tmp_path / "train-images-idx3-ubyte.gz") == (20, 28, 28)
    with gzip.open(tmp_path / "t10k-labels-idx1-ubyte.gz", "wb") as f:
        f.write(b"<html>Not found</html>")
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz is not an idx file"):
        registry.prepare_from_folder("mnist", tmp_path, data_dir=tmp_path / "tfds")
    write_idx(tmp_path, n_test=4)
    with gzip.open(tmp_path / "t10k-labels-idx1-ubyte.gz", "wb") as f:
        f.write(bytes([0, 0, 8, 1, 0, 0, 0, 5]) + b"\x01" * 5)  # 5 labels for 4 images
    with pytest.raises(ValueError, match=r"expected n images of 28×28 and n labels"):
        registry.prepare_from_folder("mnist", tmp_path, data_dir=tmp_path / "tfds")
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b truncated")
    with pytest.raises(ValueError, match="cannot be read as an idx file"):
        read_idx_header(tmp_path / "t10k-labels-idx1-ubyte.gz")


VERSION_ERROR = (
    "Detected incompatible Protobuf Gencode/Runtime versions when loading "
    "tensorflow_metadata/proto/v0/anomalies.proto: gencode 6.31.1 runtime 5.29.6. Runtime "
    "version cannot be older than the linked gencode version."
)


def _failing_tfds_import(monkeypatch, error, swallowed=False):
    """``import tensorflow_datasets`` raises ``error``; or, as tfds 4.9.10 does, logs it and
    returns a module without its API, and only importing ``public_api`` raises it."""
    import builtins
    import types

    real_import = builtins.__import__

    def fake(name, *args, **kwargs):
        if name == "tensorflow_datasets.public_api" or (
            name == "tensorflow_datasets" and not swallowed
        ):
            raise error
        if name == "tensorflow_datasets":
            return types.ModuleType("tensorflow_datasets")  # no load(): the API is missing
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)


@pytest.mark.parametrize("swallowed", [True, False], ids=["tfds-logs-it", "import-raises"])
@pytest.mark.parametrize("call", ["load", "fetch", "prepare"])
def test_protobuf_version_conflict_is_named_with_its_one_command(
    monkeypatch, tmp_path, call, swallowed
):
    """Colab's tensorflow-metadata 1.21.0 + protobuf 5.29.6: not "offline" but the fix."""
    from google.protobuf.runtime_version import VersionError

    _failing_tfds_import(monkeypatch, VersionError(VERSION_ERROR), swallowed)
    with pytest.raises(registry.PackageConflictError) as err:
        if call == "load":
            data.load("mnist", profile="full", verbose=False)
        elif call == "fetch":
            data.fetch(["mnist"])
        else:
            registry.prepare_from_folder("mnist", tmp_path)
    message = str(err.value)
    assert "not a network problem" in message and "offline" not in message
    assert "protobuf 6.31.1," in message and "installed protobuf is 5.29.6 (" in message
    assert 'pip install -q "tensorflow-metadata<1.18"' in message
    assert isinstance(err.value, data.DatasetUnavailableError)  # notebooks catching it still do


def test_protobuf_conflict_elsewhere_asks_for_a_newer_protobuf(monkeypatch):
    from google.protobuf.runtime_version import VersionError

    text = VERSION_ERROR.replace("tensorflow_metadata/proto/v0/anomalies", "other/x")
    _failing_tfds_import(monkeypatch, VersionError(text.replace("5.29.6", "6.30.0")))
    with pytest.raises(registry.PackageConflictError, match=r'pip install -q "protobuf>=6.31.1"'):
        data.load("mnist", profile="full", verbose=False)


def test_other_tfds_import_failures_are_not_called_offline(monkeypatch):
    _failing_tfds_import(monkeypatch, ModuleNotFoundError("No module named 'tensorflow_datasets'"))
    with pytest.raises(data.DatasetUnavailableError, match="installation problem") as err:
        data.load("mnist", profile="full", verbose=False)
    assert not isinstance(err.value, registry.PackageConflictError)
