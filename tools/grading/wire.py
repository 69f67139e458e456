"""The wire between the student's kernel (K) and the judge (J): frames, and values by value.

A frame is an 8-byte length, a JSON header, then the binary blobs the header lists. K → J
values are JSON plus blobs that J reads with ``np.load(allow_pickle=False)`` and Keras'
``load_model(safe_mode=True)``: J never unpickles anything K sends. J → K requests carry
their arguments pickled (cloudpickle, so a check's lambdas travel): K is the untrusted side,
so it may unpickle what the judge sends.

Tags K → J: ``nd`` (NumPy array), ``np`` (NumPy scalar), ``tensor`` / ``variable`` (tf,
rebuilt as such), ``dtype``, ``shape``, ``list`` / ``tuple`` / ``dict`` / ``set``, ``bytes``,
``float`` (nan/inf), ``history`` (a Keras History as an object with ``.history``),
``model`` (a ``.keras`` file's bytes, with a reference as fallback), ``optimizer`` (a Keras
optimizer's configuration, rebuilt by Keras; its state stays behind), ``ref`` (anything else,
a function or an object, used remotely: calling it runs the student's code in K).
"""

from __future__ import annotations

import io
import json
import math
import os
import socket
import struct
from typing import Any

MAX_HEADER = 64 << 20  # bytes of JSON in one frame
MAX_BLOBS = 4 << 30  # bytes of blobs in one frame
MAX_DEPTH = 12
_LEN = struct.Struct(">Q")


class WireError(Exception):
    """A malformed or oversized frame: the other side broke the protocol."""


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the connection")
        buf += chunk
    return bytes(buf)


def unix_address(sock: socket.socket, path: str, action: str) -> None:
    """``sock.bind(path)`` or ``sock.connect(path)`` however long ``path`` is.

    A Unix socket's address is limited to about 100 bytes, which a deep ``OUT`` folder (or
    pytest's temporary folders) exceeds; the call is made from inside the socket's folder with
    the bare file name instead, and the working directory is restored at once.
    """
    folder, name = os.path.split(os.path.abspath(path))
    here = os.open(".", os.O_RDONLY) if os.path.exists(".") else None
    try:
        os.chdir(folder)
        getattr(sock, action)(name)
    finally:
        if here is not None:
            os.fchdir(here)
            os.close(here)


def send(sock: socket.socket, header: dict[str, Any], blobs: list[bytes] = ()) -> None:
    blobs = list(blobs)
    header = dict(header, blobs=[len(b) for b in blobs])
    data = json.dumps(header).encode("utf-8")
    parts = [_LEN.pack(len(data)), data, *blobs]
    sock.sendall(b"".join(parts))


def recv(sock: socket.socket) -> tuple[dict[str, Any], list[bytes]]:
    (size,) = _LEN.unpack(_recv_exact(sock, _LEN.size))
    if size > MAX_HEADER:
        raise WireError(f"a frame header of {size} bytes (at most {MAX_HEADER})")
    try:
        header = json.loads(_recv_exact(sock, size).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise WireError(f"a frame header that is not JSON ({err})") from None
    sizes = header.get("blobs") if isinstance(header, dict) else None
    if not isinstance(sizes, list) or not all(isinstance(s, int) and s >= 0 for s in sizes):
        raise WireError("a frame without a valid list of blob sizes")
    if sum(sizes) > MAX_BLOBS:
        raise WireError(f"{sum(sizes)} bytes of blobs in one frame (at most {MAX_BLOBS})")
    return header, [_recv_exact(sock, s) for s in sizes]


# --------------------------------------------------------------------------- K: encode


def _is(obj: Any, module: str, *names: str) -> bool:
    """isinstance by class name and module prefix, so K never imports a library to check."""
    for klass in type(obj).__mro__:
        if klass.__name__ in names and (klass.__module__ or "").startswith(module):
            return True
    return False


class Encoder:
    """K side: a value → JSON-able tree + blobs; unknown objects are kept in ``refs``."""

    def __init__(self, refs: dict[int, Any], scratch: str) -> None:
        self.refs = refs
        self.scratch = scratch
        self.blobs: list[bytes] = []

    def blob(self, data: bytes) -> int:
        self.blobs.append(data)
        return len(self.blobs) - 1

    def ref(self, obj: Any) -> dict[str, Any]:
        key = id(obj)
        self.refs[key] = obj
        kind = type(obj)
        return {"t": "ref", "id": key, "type": f"{kind.__module__}.{kind.__qualname__}"}

    def array(self, value: Any) -> int:
        import numpy as np

        buf = io.BytesIO()
        np.save(buf, np.asarray(value), allow_pickle=False)
        return self.blob(buf.getvalue())

    def encode(self, obj: Any, depth: int = 0) -> Any:
        if obj is None or isinstance(obj, (bool, int, str)):
            return obj if not isinstance(obj, int) or type(obj) in (int, bool) else int(obj)
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else {"t": "float", "v": repr(obj)}
        if depth > MAX_DEPTH:
            return self.ref(obj)
        if type(obj) in (list, tuple, set, frozenset):
            name = {list: "list", tuple: "tuple", set: "set", frozenset: "set"}[type(obj)]
            return {"t": name, "v": [self.encode(x, depth + 1) for x in obj]}
        if type(obj) is dict:
            return {
                "t": "dict",
                "v": [
                    [self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in obj.items()
                ],
            }
        if isinstance(obj, (bytes, bytearray)):
            return {"t": "bytes", "blob": self.blob(bytes(obj))}
        try:
            return self._library(obj, depth)
        except Exception:
            return self.ref(obj)

    def _library(self, obj: Any, depth: int) -> Any:
        mod = type(obj).__module__ or ""
        if mod == "numpy" or mod.startswith("numpy."):
            import numpy as np

            if isinstance(obj, np.ndarray) and obj.dtype != object:
                return {"t": "nd", "blob": self.array(obj)}
            if isinstance(obj, np.generic) and not isinstance(obj, np.object_):
                return {"t": "np", "blob": self.array(obj)}
            if isinstance(obj, np.dtype):
                return {"t": "npdtype", "v": obj.str}
        if _is(obj, "tensorflow", "DType"):
            return {"t": "dtype", "v": obj.name}
        if _is(obj, "tensorflow", "TensorShape"):
            return {"t": "shape", "v": None if obj.rank is None else list(obj.as_list())}
        if _is(obj, "tensorflow", "BaseResourceVariable", "ResourceVariable"):
            return {
                "t": "variable",
                "blob": self.array(obj.numpy()),
                "trainable": bool(obj.trainable),
            }
        if _is(obj, "tensorflow", "EagerTensor") or _is(obj, "tensorflow", "_EagerTensorBase"):
            value = obj.numpy()
            if getattr(value, "dtype", None) is not None and value.dtype.kind == "O":
                return {"t": "tensor_str", "v": self.encode(value.tolist(), depth + 1)}
            return {"t": "tensor", "blob": self.array(value)}
        if _is(obj, "keras", "History"):
            return {
                "t": "history",
                "history": self.encode(dict(obj.history), depth + 1),
                "epoch": self.encode(list(getattr(obj, "epoch", [])), depth + 1),
                "params": self.encode(dict(getattr(obj, "params", {}) or {}), depth + 1),
            }
        if _is(obj, "keras", "Model", "Functional", "Sequential"):
            return self._model(obj)
        if _is(obj, "keras", "Optimizer", "BaseOptimizer"):  # its configuration, not its state
            import keras

            config = keras.optimizers.serialize(obj)
            return {
                "t": "optimizer",
                "v": self.encode(config, depth + 1),
                "id": self.ref(obj)["id"],
            }
        if _is(obj, "keras", "Variable", "KerasVariable"):
            return {"t": "tensor", "blob": self.array(obj.numpy())}
        return self.ref(obj)

    def _model(self, model: Any) -> Any:
        import os
        import tempfile

        found = self.ref(model)
        try:
            fd, path = tempfile.mkstemp(suffix=".keras", dir=self.scratch)
            os.close(fd)
            try:
                model.save(path)
                with open(path, "rb") as fh:
                    data = fh.read()
            finally:
                os.unlink(path)
        except Exception:
            return found  # not saveable: used remotely
        node = {"t": "model", "blob": self.blob(data), "id": found["id"], "type": found["type"]}
        devices = _mirrored_devices(getattr(model, "distribute_strategy", None))
        if devices:
            node["mirrored"] = devices  # built under a MirroredStrategy: rebuilt under one
        return node


def _mirrored_devices(strategy: Any) -> list[str] | None:
    """The devices of a ``tf.distribute.MirroredStrategy`` (None for any other strategy)."""
    if type(strategy).__name__ != "MirroredStrategy":
        return None
    try:
        return [str(d) for d in strategy.extended.worker_devices]
    except Exception:
        return None


def is_default_strategy(strategy: Any) -> bool:
    """True for TensorFlow's default (no-op, one replica) ``tf.distribute`` strategy."""
    return type(strategy).__name__ == "_DefaultDistributionStrategy"


def default_strategy() -> Any:
    """``tf.distribute.get_strategy()`` outside any scope: the default strategy."""
    import tensorflow as tf

    return tf.distribute.get_strategy()


def mirrored_strategy(devices: list[str]) -> Any:
    """A ``MirroredStrategy`` over ``devices``: how a check's strategy travels to the kernel."""
    import tensorflow as tf

    return tf.distribute.MirroredStrategy(list(devices))


# --------------------------------------------------------------------------- J: decode


class History:
    """A Keras ``History`` rebuilt by value in the judge: ``.history``, ``.epoch``, ``.params``."""

    def __init__(self, history: dict, epoch: list, params: dict) -> None:
        self.history, self.epoch, self.params = history, epoch, params

    def __repr__(self) -> str:
        return f"History(keys={sorted(self.history)})"


def load_array(data: bytes) -> Any:
    import numpy as np

    return np.load(io.BytesIO(data), allow_pickle=False)


class Decoder:
    """J side: JSON tree + blobs → values; ``ref`` tags become ``remote(id, type)``."""

    def __init__(self, blobs: list[bytes], remote: Any, tmpdir: str) -> None:
        self.blobs, self.remote, self.tmpdir = blobs, remote, tmpdir

    def blob(self, node: dict) -> bytes:
        index = node.get("blob")
        if not isinstance(index, int) or not 0 <= index < len(self.blobs):
            raise WireError(f"a value points at blob {index!r}, which the frame lacks")
        return self.blobs[index]

    def decode(self, node: Any, depth: int = 0) -> Any:
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if depth > MAX_DEPTH + 2 or not isinstance(node, dict):
            raise WireError(f"an unexpected value node {type(node).__name__}")
        tag = node.get("t")
        v = node.get("v")
        if tag in ("list", "tuple", "set") and isinstance(v, list):
            items = [self.decode(x, depth + 1) for x in v]
            return {"list": list, "tuple": tuple, "set": set}[tag](items)
        if tag == "dict" and isinstance(v, list):
            return {self.decode(k, depth + 1): self.decode(x, depth + 1) for k, x in v}
        if tag == "float" and v in ("nan", "inf", "-inf"):
            return float(v)
        if tag == "bytes":
            return self.blob(node)
        if tag in ("nd", "np"):
            value = load_array(self.blob(node))
            return value[()] if tag == "np" else value
        if tag == "npdtype" and isinstance(v, str):
            import numpy as np

            return np.dtype(v)
        if tag == "dtype" and isinstance(v, str):
            import tensorflow as tf

            return tf.as_dtype(v)
        if tag == "shape":
            import tensorflow as tf

            return tf.TensorShape(v)
        if tag == "tensor":
            import tensorflow as tf

            return tf.constant(load_array(self.blob(node)))
        if tag == "tensor_str":
            import tensorflow as tf

            return tf.constant(self.decode(v, depth + 1))
        if tag == "variable":
            import tensorflow as tf

            return tf.Variable(load_array(self.blob(node)), trainable=bool(node.get("trainable")))
        if tag == "history":
            return History(
                self.decode(node.get("history"), depth + 1),
                self.decode(node.get("epoch"), depth + 1),
                self.decode(node.get("params"), depth + 1),
            )
        if tag == "model":
            return self._model(node)
        if tag == "optimizer":
            import keras

            config = self.decode(node.get("v"), depth + 1)
            try:  # Keras resolves only its own classes here (else: used remotely)
                return keras.optimizers.deserialize(config)
            except Exception:
                return self.remote(node["id"], "keras optimizer")
        if tag == "ref" and isinstance(node.get("id"), int):
            return self.remote(node["id"], str(node.get("type", "")))
        raise WireError(f"an unknown value tag {tag!r}")

    def _model(self, node: dict) -> Any:
        import os
        import tempfile

        import keras

        fd, path = tempfile.mkstemp(suffix=".keras", dir=self.tmpdir)
        with os.fdopen(fd, "wb") as fh:
            fh.write(self.blob(node))
        devices = node.get("mirrored")
        try:
            if (
                isinstance(devices, list)
                and 1 < len(devices) <= 64
                and all(isinstance(d, str) and len(d) < 200 for d in devices)
            ):
                # The kernel built it under a MirroredStrategy: rebuild it under one on the
                # same devices, so a check can see its variables mirrored (lab 00's scope).
                with mirrored_strategy(devices).scope():
                    return keras.saving.load_model(path, safe_mode=True)
            return keras.saving.load_model(path, safe_mode=True)
        except Exception:
            # Not loadable safely (a custom layer, a Lambda): use it remotely, by value.
            return self.remote(node["id"], str(node.get("type", "")))
        finally:
            os.unlink(path)
