"""The student kernel's side of the judge (K): each check cell of the graded copy calls ``serve``.

``serve(check)`` connects to the judge's socket (``$COURSE_JUDGE_SOCKET``), says which check
its cell stands for, and answers the judge's requests until it is done: a name of the
notebook's namespace, by value (``wire.Encoder``); or a call of a student's function (or an
attribute, an item) with arguments the judge sends pickled. Then it shows the verdict, so the
graded copy reads like the student's notebook. Nothing here decides a grade: whatever the
student's code does to this module, the kernel can only answer with values.
"""

from __future__ import annotations

import os
import pickle
import socket
from typing import Any

from . import wire

_REFS: dict[int, Any] = {}


class _Unpickler(pickle.Unpickler):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.kernel_objects: set[int] = set()

    def persistent_load(self, pid: Any) -> Any:
        if isinstance(pid, tuple) and len(pid) == 2 and pid[0] == "ref" and pid[1] in _REFS:
            self.kernel_objects.add(id(_REFS[pid[1]]))
            return _REFS[pid[1]]
        raise pickle.UnpicklingError(f"unknown kernel object {pid!r}")


def _state(obj: Any) -> Any:
    """What a call may have changed in an object the judge sent: weights, flags, steps."""
    try:
        if wire._is(obj, "keras", "Layer"):
            layers = list(obj._flatten_layers(include_self=True))
            return {
                "weights": [v.numpy() for v in obj.weights],
                "trainable": [bool(layer.trainable) for layer in layers],
            }
        if wire._is(obj, "keras", "Optimizer", "BaseOptimizer"):
            return {"iterations": int(obj.iterations.numpy())}
        if wire._is(obj, "tensorflow", "BaseResourceVariable") or wire._is(
            obj, "keras", "Variable"
        ):
            return {"value": obj.numpy()}
    except Exception:
        return None
    return None


def _reply(sock: socket.socket, produce) -> None:
    scratch = os.environ.get("COURSE_JUDGE_SCRATCH") or os.getcwd()
    try:
        value = produce()
        enc = wire.Encoder(_REFS, scratch)
        tree = enc.encode(value)
        wire.send(sock, {"ok": tree}, enc.blobs)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as err:  # the student's function failed: the judge sees it
        wire.send(sock, {"error": {"type": type(err).__name__, "message": str(err)[:2000]}})


def serve(check: str) -> None:
    """Serve the judge for ``check``; show its verdict (raise when it did not pass)."""
    from IPython import get_ipython

    shell = get_ipython()
    namespace = shell.user_ns if shell is not None else {}
    if os.environ.get("COURSE_GRADER_SNAPSHOT") == "1":  # only `make notebooks`' solution runs
        try:
            from . import forge

            forge.take_snapshot(namespace, check, forge.snapshot_folder())
        except Exception as err:  # a snapshot never changes what the check does
            print(f"(snapshot of the namespace before {check} failed: {err})")
    _REFS.clear()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    wire.unix_address(sock, os.environ["COURSE_JUDGE_SOCKET"], "connect")
    try:
        wire.send(sock, {"op": "serve", "check": check})
        while True:
            request, blobs = wire.recv(sock)
            op = request.get("op")
            if op == "get":
                name = request.get("name")

                def lookup(name=name):
                    if name not in namespace:
                        raise NameError(f"name {name!r} is not defined")
                    return namespace[name]

                _reply(sock, lookup)
            elif op == "call":

                def call(blobs=blobs):
                    unpickler = _Unpickler(__import__("io").BytesIO(blobs[0]))
                    fn, args, kwargs = unpickler.load()
                    result = fn(*args, **kwargs)
                    sent = [*args, *kwargs.values()]  # the judge's objects: their state after
                    skip = unpickler.kernel_objects
                    return result, [None if id(a) in skip else _state(a) for a in sent]

                _reply(sock, call)
            elif op == "done":
                status, message = request.get("status"), str(request.get("message", ""))
                ename = str(request.get("ename", ""))
                break
            else:
                raise RuntimeError(f"the judge sent an unknown request {op!r}")
    finally:
        _REFS.clear()
        sock.close()
    if status == "passed":
        print(f"✓ {check}: passed (judged outside the kernel)")
        return
    if status == "failed":
        raise AssertionError(message)
    import builtins

    kind = getattr(builtins, ename, None)
    if isinstance(kind, type) and issubclass(kind, Exception):
        raise kind(message.removeprefix(f"{ename}: "))
    raise RuntimeError(message)
