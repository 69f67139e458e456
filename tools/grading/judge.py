"""The judge (J): a process that never runs student code. ``python -m tools.grading.judge``.

It runs the canonical setup cell, listens on a Unix socket, and for each check cell of the
student's kernel that connects, runs the CANONICAL check source (hidden checks included) in
a namespace where: the setup cell's names, earlier check cells' names, modules and the
provided cells that need no student code (``Lab.plan``) are the judge's own; every other free
name is fetched from the kernel by value (``wire``), and the student's functions and objects
are remote: calling one runs it in the kernel and brings the result back by value. Verdicts
(and tampering flags) go, one JSON line each, to a file the kernel cannot reach.
"""

from __future__ import annotations

import argparse
import builtins
import contextlib
import io
import json
import linecache
import os
import pickle
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from . import wire
from .lab import _text, cell_names, load_lab
from .report import FAILURE_NAMES, _cap


class KernelGone(Exception):
    """The student's kernel stopped answering (closed, broke the protocol, timed out)."""


def _remote_exception(kind: str, message: str) -> Exception:
    """The student's exception in the judge: a builtin Exception class of that name, or a new one."""
    klass = getattr(builtins, kind, None) if isinstance(kind, str) else None
    if not (isinstance(klass, type) and issubclass(klass, Exception)):
        safe = kind if isinstance(kind, str) and kind.isidentifier() else "KernelError"
        klass = type(safe, (Exception,), {})
    try:
        return klass(message)
    except Exception:
        return RuntimeError(f"{kind}: {message}")


class Link:
    """One check's conversation with the kernel."""

    def __init__(self, sock: socket.socket, tmpdir: str) -> None:
        self.sock, self.tmpdir = sock, tmpdir

    def _ask(self, header: dict, blobs: list[bytes] = ()) -> Any:
        try:
            wire.send(self.sock, header, blobs)
            reply, got = wire.recv(self.sock)
        except (OSError, EOFError, wire.WireError) as err:
            raise KernelGone(f"the kernel stopped answering the judge ({err})") from None
        if "error" in reply:
            error = reply["error"] if isinstance(reply["error"], dict) else {}
            raise _remote_exception(str(error.get("type", "")), str(error.get("message", "")))
        try:
            return wire.Decoder(got, self.remote, self.tmpdir).decode(reply.get("ok"))
        except wire.WireError as err:
            raise KernelGone(f"the kernel sent a malformed value ({err})") from None

    def get(self, name: str) -> Any:
        return self._ask({"op": "get", "name": name})

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` in the kernel; the judge's own Keras objects among the
        arguments then take the state the call left in the kernel's copies (weights,
        ``trainable`` flags, optimizer steps): numbers only, so a check sees a ``train_step``
        or a ``freeze`` act on the model it built."""
        buf = io.BytesIO()
        _Pickler(buf).dump((fn, args, kwargs))
        reply = self._ask({"op": "call"}, [buf.getvalue()])
        if not (isinstance(reply, tuple) and len(reply) == 2 and isinstance(reply[1], list)):
            raise KernelGone("the kernel answered a call with a malformed value")
        result, after = reply
        for original, state in zip([*args, *kwargs.values()], after):
            if isinstance(state, dict) and type(original) is not Remote:
                _write_back(original, state)
        return result

    def remote(self, ref: int, type_name: str) -> Remote:
        return Remote(self, ref, type_name)


def _write_back(obj: Any, state: dict) -> None:
    """Copy numbers from the kernel's copy into the judge's object when the shapes agree."""
    try:
        if "weights" in state and hasattr(obj, "weights"):
            values, weights = state["weights"], list(obj.weights)
            if len(values) == len(weights) and all(
                tuple(v.shape) == tuple(getattr(a, "shape", ())) for v, a in zip(weights, values)
            ):
                for v, a in zip(weights, values):
                    v.assign(a)
            layers = list(obj._flatten_layers(include_self=True))
            flags = state.get("trainable") or []
            if len(flags) == len(layers):
                for layer, flag in zip(layers, flags):
                    if layer.trainable != bool(flag):
                        layer.trainable = bool(flag)
        elif "iterations" in state and hasattr(obj, "iterations"):
            obj.iterations.assign(int(state["iterations"]))
        elif "value" in state and hasattr(obj, "assign"):
            obj.assign(state["value"])
    except Exception:  # a value that does not fit: the check sees the unchanged object
        pass


def _pickler_class():
    import cloudpickle

    class Pickler(cloudpickle.Pickler):
        def persistent_id(self, obj: Any) -> Any:
            if type(obj) is Remote:
                return ("ref", object.__getattribute__(obj, "_ref"))
            return None

        def reducer_override(self, obj: Any) -> Any:
            # A check's tf.distribute strategy cannot be pickled: it travels as its devices.
            devices = wire._mirrored_devices(obj)
            if devices:
                return (wire.mirrored_strategy, (devices,))
            if wire.is_default_strategy(obj):
                return (wire.default_strategy, ())
            return super().reducer_override(obj)

    return Pickler


class _Pickler:
    def __init__(self, buf: io.BytesIO) -> None:
        self.inner = _pickler_class()(buf, protocol=pickle.HIGHEST_PROTOCOL)

    def dump(self, obj: Any) -> None:
        self.inner.dump(obj)


class Remote:
    """A student's object or function that stays in the kernel; used through values only.

    Attribute access, calls, items, ``len`` and iteration run in the kernel and come back by
    value. It has no truth value and no comparisons or arithmetic of its own: an object that
    claims to equal everything cannot pass a check from here.
    """

    __slots__ = ("_link", "_ref", "_type")

    def __init__(self, link: Link, ref: int, type_name: str) -> None:
        object.__setattr__(self, "_link", link)
        object.__setattr__(self, "_ref", ref)
        object.__setattr__(self, "_type", type_name)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return object.__getattribute__(self, "_link").call(getattr, self, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return object.__getattribute__(self, "_link").call(self, *args, **kwargs)

    def __getitem__(self, key: Any) -> Any:
        import operator

        return object.__getattribute__(self, "_link").call(operator.getitem, self, key)

    def __len__(self) -> int:
        n = object.__getattribute__(self, "_link").call(len, self)
        if type(n) is not int:
            raise TypeError("len() of a kernel object did not give an int")
        return n

    def __iter__(self):
        return iter(object.__getattribute__(self, "_link").call(list, self))

    def __bool__(self) -> bool:
        raise TypeError(
            f"a {object.__getattribute__(self, '_type')} from the student's kernel has no "
            "truth value in a check (expected a number, an array or a list)"
        )

    def __repr__(self) -> str:
        return f"<kernel object {object.__getattribute__(self, '_type')}>"


class Judge:
    def __init__(self, args: argparse.Namespace) -> None:
        self.lab = load_lab(args.lab, Path(args.solutions))
        self.out = open(args.verdicts, "a", encoding="utf-8")  # noqa: SIM115
        self.tmpdir = args.tmpdir
        self.timeout = args.cell_timeout
        self.ns: dict[str, Any] = {"__name__": "__main__", "display": _display}
        self.ran: set[str] = set()
        self.judged: list[str] = []
        self.order = [c.id for c in self.lab.checks]
        self.setup_error: str | None = None

    def write(self, record: dict) -> None:
        self.out.write(json.dumps(record) + "\n")
        self.out.flush()
        os.fsync(self.out.fileno())

    def run_setup(self) -> None:
        cell = self.lab.canonical.get("setup")
        if cell is None:
            return
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(_compile(_text(cell), "<setup>"), self.ns)
        except Exception as err:  # reported with every verdict
            self.setup_error = f"the judge's setup cell failed: {type(err).__name__}: {err}"

    def prepare(self, check: str) -> None:
        """Run the course statements this check needs, once each (stdout discarded)."""
        for label, source in self.lab.plan[check].steps:
            if label in self.ran:
                continue
            self.ran.add(label)
            with contextlib.redirect_stdout(io.StringIO()):
                exec(_compile(source, f"<provided cell {label}>"), self.ns)

    def judge(self, check: str, link: Link) -> tuple[str, str, str]:
        if self.setup_error:
            return "error", "RuntimeError", self.setup_error
        plan = self.lab.plan[check]
        source = _text(self.lab.canonical[check])
        try:
            self.prepare(check)
            scope = dict(self.ns)
            for name in plan.remote:
                try:
                    scope[name] = link.get(name)
                except NameError:
                    scope.pop(name, None)  # the check's own NameError says which
                    continue
                wrong = wrong_kind(name, plan.kind(name), scope[name], link)
                if wrong:
                    return "error", "TypeError", wrong
            checks_module = sys.modules.get("common.checks")
            if checks_module is not None:  # checks.run_student(fn, …) runs fn in the kernel
                checks_module.run_student = link.call
            exec(_compile(source, f"<check {check}>"), scope)
        except KernelGone as err:
            return "error", "KernelGone", str(err)
        except Exception as err:
            ename = type(err).__name__
            status = (
                "failed" if ename in FAILURE_NAMES or ename.endswith("AssertionError") else "error"
            )
            return status, ename, f"{ename}: {err}" if str(err) else ename
        names = cell_names(source)
        for name in names[0] if names else ():
            if name in scope and not isinstance(scope[name], Remote):
                self.ns[name] = scope[name]
        return "passed", "", ""

    def handle(self, conn: socket.socket) -> None:
        conn.settimeout(self.timeout)
        try:
            hello, _ = wire.recv(conn)
        except (OSError, EOFError, wire.WireError) as err:
            self.write(
                {"flag": f"a connection to the judge that did not name a check ({_cap(err, 80)})"}
            )
            return
        check = hello.get("check") if hello.get("op") == "serve" else None
        if check not in self.lab.plan:
            self.write(
                {"flag": f"the kernel asked the judge for an unknown check {_cap(check, 60)!r}"}
            )
            return
        if check in self.judged:
            self.write({"flag": f"check {check} was requested again after it was judged (ignored)"})
            status, ename, message = "error", "RuntimeError", "this check was already judged once"
        else:
            later = [c for c in self.judged if self.order.index(c) > self.order.index(check)]
            if later:
                self.write(
                    {"flag": f"check {check} was requested after the later check {later[0]}"}
                )
            self.judged.append(check)
            start = time.monotonic()
            status, ename, message = self.judge(check, Link(conn, self.tmpdir))
            seconds = round(time.monotonic() - start, 2)
            self.write(
                {"check": check, "status": status, "ename": ename, "message": _cap(message)}
                | {"seconds": seconds}
            )
        with contextlib.suppress(OSError):
            wire.send(
                conn, {"op": "done", "status": status, "ename": ename, "message": _cap(message)}
            )


def _received(value: Any) -> str:
    if type(value) is Remote:
        return repr(value)
    return f"a {type(value).__name__} value"


def wrong_kind(name: str, kind: str | None, value: Any, link: Link) -> str | None:
    """Why ``value`` (fetched from the kernel for ``name``) is not the kind the plan expects,
    or None when it is (or nothing is expected: "value: …" or undeclared).

    "model": a Keras model the judge loaded from the kernel's ``.keras`` file, or one it cannot
    load (the student's own layer classes) that stays in the kernel and is called there; "function": a
    callable that stays in the kernel (a def of an exercise cell, a ``tf.function``);
    "class": a class that stays in the kernel. A typed-in value (a number, a list, an array, a
    ``History``) is never accepted for these: the check would read the student's numbers.
    """
    if kind == "model":
        if (type(value).__module__ or "").startswith("keras"):
            import keras

            if isinstance(value, keras.Model):
                return None
        if type(value) is Remote:  # a model the judge cannot load (custom layers): it stays in
            import keras  # the kernel, and the check calls it there like a function

            if link.call(isinstance, value, keras.Model) is True:
                return None
        return (
            f"the check expects {name!r} to be a Keras model (saved by the kernel as a .keras "
            f"file and loaded by the judge), received {_received(value)}: build it with Keras "
            "layers (a custom layer needs keras.saving.register_keras_serializable)."
        )
    if kind in ("function", "class"):
        ok = type(value) is Remote and link.call(callable, value) is True
        if ok and kind == "class":
            ok = link.call(isinstance, value, type) is True
        if ok:
            return None
        what = "function (a def)" if kind == "function" else "class (a class statement)"
        return (
            f"the check expects {name!r} to be your {what}, which the judge calls; received "
            f"{_received(value)}. Define {name} with `{'def' if kind == 'function' else 'class'}"
            f" {name}…` and do not assign another value to the name."
        )
    return None


def _compile(source: str, name: str) -> Any:
    """Compile a cell's code and register its text in ``linecache`` (as IPython does), so that
    ``inspect.getsource`` works: AutoGraph needs it to convert a ``tf.function``'s loops, and
    without it a provided training loop runs as slow plain Python in the judge."""
    linecache.cache[name] = (len(source), None, source.splitlines(keepends=True), name)
    return compile(source, name, "exec")


def _display(*objs: Any, **kwargs: Any) -> None:
    print(*objs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.grading.judge")
    parser.add_argument("--lab", required=True)
    parser.add_argument("--solutions", required=True)
    parser.add_argument("--socket", required=True)
    parser.add_argument("--verdicts", required=True)
    parser.add_argument("--tmpdir", required=True)
    parser.add_argument("--cell-timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    wire.unix_address(server, args.socket, "bind")
    server.listen(8)
    judge = Judge(args)
    judge.run_setup()
    while True:
        conn, _ = server.accept()
        try:
            judge.handle(conn)
        except Exception:  # a judge bug: say so, keep serving
            judge.write({"flag": f"judge error: {_cap(traceback.format_exc(), 200)}"})
        finally:
            conn.close()


if __name__ == "__main__":
    sys.exit(main())
