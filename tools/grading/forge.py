"""The grading rule's regression attacks (issue 25 §4): forged snapshots and swapped references.

A check's points must come only from the student's functions, classes and models, evaluated by
the judge. Two attacks show whether a lab keeps that promise, on its blank lab (every exercise
``pass``, i.e. no work done):

- **forged snapshot** (``snapshot``): while ``make notebooks`` grades the solution, the kernel
  stub (``kernel.serve``, only when the grader sets ``COURSE_GRADER_SNAPSHOT``: never in a
  student's grading) saves, right before each check, every plain value of the namespace
  (numbers, strings, bytes, lists/tuples/dicts/sets of them, NumPy arrays, tf tensors and
  variables, a Keras History's ``.history``; no functions, classes, modules, models, layers,
  optimizers). The blank lab gets, before each check cell, a cell restoring that snapshot: the
  values a student could type in. It must score 0.
- **swapped references** (``swap``): the blank lab gets, after each provided cell, a cell that
  redefines every top-level function that cell defines to return a constant
  (``def rnnt_cer(*a, **k): return 0.0``). Checks use the judge's own reference code, so it
  must score 0 too.

``tools.grading.solutions`` builds and grades both after each solution run (``KNOWN_LEAKS``
there lists the labs that still leak, so the test is strict for every other lab).
"""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import os
import sys
import zlib
from pathlib import Path
from typing import Any

from .. import notebooks
from . import wire
from .lab import _text, cell_role

ATTACKS = ("snapshot", "swap")
SNAPSHOT_ENV = "COURSE_GRADER_SNAPSHOT"
MAX_VALUE_BYTES = 4 << 20  # a bigger value (a dataset) is not replayed: provided cells remake it
SKIP_NAMES = {"In", "Out", "exit", "quit", "get_ipython"}
CONSTANT = "0.0"


# --------------------------------------------------------------------------- K: take a snapshot


def _plain(obj: Any, depth: int = 0) -> bool:
    """Whether ``obj`` is a plain value a student could type in (see the module's docstring)."""
    if obj is None or isinstance(obj, (bool, int, float, str, bytes, bytearray)):
        return True
    if depth > wire.MAX_DEPTH - 2:
        return False
    if type(obj) in (list, tuple, set, frozenset):
        return all(_plain(x, depth + 1) for x in obj)
    if type(obj) is dict:
        return all(_plain(k, depth + 1) and _plain(v, depth + 1) for k, v in obj.items())
    mod = type(obj).__module__ or ""
    if mod == "numpy" or mod.startswith("numpy."):
        import numpy as np

        return (isinstance(obj, np.ndarray) and obj.dtype != object) or (
            isinstance(obj, np.generic) and not isinstance(obj, np.object_)
        )
    if wire._is(obj, "keras", "History"):
        return _plain(getattr(obj, "history", None), depth + 1)
    return (
        wire._is(obj, "tensorflow", "EagerTensor", "_EagerTensorBase")
        or wire._is(obj, "tensorflow", "BaseResourceVariable", "ResourceVariable")
        or wire._is(obj, "keras", "Variable", "KerasVariable")
    )


def _nbytes(value: Any) -> int:
    """The size of an array or tensor without copying it (0 for anything else)."""
    size = getattr(value, "nbytes", None)
    if isinstance(size, int):
        return size
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    try:
        count = 1
        for n in shape:
            count *= int(n)
        return count * int(getattr(dtype, "size", 1) or 1)
    except Exception:
        return 0


def take_snapshot(namespace: dict[str, Any], check: str, folder: str) -> None:
    """Save the plain values of ``namespace`` as ``folder/<check>.json`` + content-addressed
    blobs ``folder/blobs/<sha1>`` (each array written once however many checks see it)."""
    import time

    start = time.perf_counter()
    blobs_dir = Path(folder) / "blobs"
    blobs_dir.mkdir(parents=True, exist_ok=True)
    entries: dict[str, Any] = {}
    for name, value in list(namespace.items()):
        if name.startswith("_") or name in SKIP_NAMES or not _plain(value):
            continue
        if _nbytes(value) > MAX_VALUE_BYTES:  # a dataset: not worth encoding to drop it
            continue
        try:
            enc = wire.Encoder({}, folder)
            tree = enc.encode(value)
        except Exception:
            continue
        if enc.refs or sum(len(b) for b in enc.blobs) > MAX_VALUE_BYTES:
            continue
        digests = []
        for data in enc.blobs:
            digest = hashlib.sha1(data).hexdigest()
            path = blobs_dir / digest
            if not path.exists():
                path.write_bytes(data)
            digests.append(digest)
        entries[name] = {"tree": tree, "blobs": digests}
    (Path(folder) / f"{check}.json").write_text(json.dumps(entries), encoding="utf-8")
    with open(Path(folder) / "seconds.txt", "a", encoding="utf-8") as fh:  # its cost, to report
        fh.write(f"{check} {time.perf_counter() - start:.3f}\n")


# --------------------------------------------------------------------------- K: replay it


def load_store(text: str) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The forged notebook's store cell: base64 of zlib of {values, blobs} (see ``store_cell``)."""
    data = json.loads(zlib.decompress(base64.b64decode(text)))
    blobs = {k: base64.b64decode(v) for k, v in data["blobs"].items()}
    return data["values"], blobs


def restore(namespace: dict[str, Any], store: Any, keys: dict[str, str]) -> None:
    """Bind each ``name`` of ``keys`` {name: value key} in ``namespace`` to a fresh copy."""
    values, blobs = store
    for name, key in keys.items():
        entry = values[key]
        decoder = wire.Decoder([blobs[d] for d in entry["blobs"]], None, ".")
        value = decoder.decode(entry["tree"])
        keras = sys.modules.get("keras")  # a History came from a kernel that imported Keras
        if isinstance(value, wire.History) and keras is not None:
            try:
                history = keras.callbacks.History()
                history.history, history.epoch = value.history, value.epoch
                value = history
            except Exception:
                pass
        namespace[name] = value


# --------------------------------------------------------------------------- host: build


def blank(lab_nb: dict[str, Any]) -> dict[str, Any]:
    """The generated lab with every exercise left empty but runnable (``pass``), as an
    attacker who does no work would submit it."""
    out = json.loads(json.dumps(lab_nb))
    for cell in out["cells"]:
        if cell.get("cell_type") == "code":
            text = notebooks.source(cell).replace("raise NotImplementedError()", "pass")
            cell["source"] = text
    return out


def _code(cell_id: str, text: str) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": cell_id,
        "metadata": {},
        "outputs": [],
        "source": text,
    }


def _insert(nb: dict[str, Any], cell_id: str, new: dict[str, Any], before: bool) -> None:
    index = next(i for i, c in enumerate(nb["cells"]) if c.get("id") == cell_id)
    nb["cells"].insert(index if before else index + 1, new)


def read_snapshots(folder: Path) -> dict[str, dict[str, Any]]:
    """{check: {name: {"tree", "blobs"}}} from a solution run's snapshot folder."""
    found = {}
    for path in sorted(Path(folder).glob("*.json")):
        found[path.stem] = json.loads(path.read_text(encoding="utf-8"))
    return found


def forged_snapshot(lab_nb: dict[str, Any], folder: Path, check_ids: list[str]) -> dict[str, Any]:
    """The blank lab replaying, before each check cell, the values the solution had there."""
    snapshots = read_snapshots(folder)
    nb = blank(lab_nb)
    values: dict[str, Any] = {}
    blob_ids: set[str] = set()
    per_check: dict[str, dict[str, str]] = {}
    for check, entries in snapshots.items():
        keys = {}
        for name, entry in entries.items():
            key = hashlib.sha1(json.dumps(entry, sort_keys=True).encode()).hexdigest()[:16]
            values[key] = entry
            blob_ids.update(entry["blobs"])
            keys[name] = key
        per_check[check] = keys
    blobs = {
        d: base64.b64encode((Path(folder) / "blobs" / d).read_bytes()).decode() for d in blob_ids
    }
    packed = zlib.compress(json.dumps({"values": values, "blobs": blobs}).encode(), 1)
    store = base64.b64encode(packed).decode()
    forge = '__import__("tools.grading.forge", fromlist=["restore"])'
    first = next(
        (c.get("id") for c in nb["cells"] if c.get("id") in check_ids or c.get("id") == "setup"),
        None,
    )
    for check in check_ids:
        if check not in per_check or not any(c.get("id") == check for c in nb["cells"]):
            continue
        text = f"{forge}.restore(globals(), _FORGED, {per_check[check]!r})"
        _insert(nb, check, _code(f"forged-{check}"[:64], text), before=True)
    store_cell = _code("forged-store", f"_FORGED = {forge}.load_store({store!r})")
    if first == "setup":
        _insert(nb, "setup", store_cell, before=False)
    else:
        nb["cells"].insert(0, store_cell)
    return nb


def provided_functions(solution: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(cell id, names) of the top-level functions each provided cell of the solution defines."""
    found = []
    for cell in solution.get("cells", []):
        if cell.get("cell_type") != "code" or cell_role(cell) != "provided":
            continue
        try:
            tree = ast.parse(_text(cell))
        except SyntaxError:
            continue
        names = [
            n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
        ]
        if names and cell.get("id"):
            found.append((str(cell["id"]), names))
    return found


def swapped_references(lab_nb: dict[str, Any], solution: dict[str, Any]) -> dict[str, Any]:
    """The blank lab where every provided function is redefined, right after its cell, to
    return a constant: a student replacing the reference code a check compares against."""
    nb = blank(lab_nb)
    ids = {c.get("id") for c in nb["cells"]}
    for cell_id, names in provided_functions(solution):
        if cell_id not in ids:
            continue
        text = "\n\n".join(f"def {n}(*args, **kwargs):\n    return {CONSTANT}" for n in names)
        _insert(nb, cell_id, _code(f"swapped-{cell_id}"[:64], text), before=False)
    return nb


def channels(
    solution: dict[str, Any], lab_nb: dict[str, Any], plans: dict[str, Any]
) -> list[tuple[str | None, frozenset[str], str]]:
    """How a blank lab's kernel could reach a verdict: (check id, or None for any check; the
    attacks that could use it; why). Empty: neither attack can gain, so both are skipped
    (``solutions.grade_all_solutions(attacks="auto")``).

    The judge takes from the kernel only the plan's remote names. A name of a kind the judge
    enforces (an exercise def/class, a declared model, function or class) cannot carry a
    forged value; one bound by a provided cell may run provided code in the kernel (a swapped
    helper); any other name (undeclared, or ``"value: …"``) is open to both attacks. So is a
    blank lab's exercise function or class that uses a course name outside the answer (it
    could return a forged value or a swapped helper's result), for any check. A blank
    function whose body is only its docstring runs nothing when called and returns None, so
    the names of its defaults and annotations (``sizes=SIZES``) are no channel; its
    decorators are (``_runs_on_call``).
    """
    found: list[tuple[str | None, frozenset[str], str]] = []
    both, swap = frozenset(ATTACKS), frozenset({"swap"})
    for cid, plan in plans.items():
        kinds = dict(plan.kinds)
        for name, _index, role, _kind in plan.origins:
            kind = kinds.get(name)
            if kind not in ("function", "class", "model"):
                found.append((cid, both, f"{cid} takes {name!r} ({kind or 'undeclared'})"))
            elif role == "provided":
                found.append((cid, swap, f"{cid} takes {name!r}, bound by a provided cell"))
    modules: set[str] = set()
    for cell in solution.get("cells", []):
        try:
            tree = ast.parse(_text(cell)) if cell.get("cell_type") == "code" else None
        except SyntaxError:
            continue
        for node in tree.body if tree else ():
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                modules |= {(a.asname or a.name).split(".")[0] for a in node.names}
    roles = {c.get("id"): cell_role(c) for c in solution.get("cells", [])}
    blank_defs = set()  # the exercise cells' functions and classes: empty in a blank lab too
    for cell in solution.get("cells", []):
        if cell.get("cell_type") == "code" and roles.get(cell.get("id")) == "exercise":
            try:
                tree = ast.parse(_text(cell))
            except SyntaxError:
                continue
            blank_defs |= {
                n.name
                for n in tree.body
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            }
    import builtins

    for cell in lab_nb.get("cells", []):
        if cell.get("cell_type") != "code" or roles.get(cell.get("id")) != "exercise":
            continue
        try:
            tree = ast.parse(notebooks.source(cell).replace("raise NotImplementedError()", "pass"))
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                used = {n for n in _runs_on_call(node) if not hasattr(builtins, n)}
                used -= modules | blank_defs
                if used:
                    found.append(
                        (None, both, f"the blank {node.name} uses {', '.join(sorted(used))}")
                    )
    return found


def _runs_on_call(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> set[str]:
    """The free names a blank def or class can reach once defined: all of them, but for a
    function whose body is only a docstring and ``pass``, its decorators' alone (a default
    or an annotation is evaluated once, at the def, and such a body never reads it)."""
    from .lab import _free

    body = node.body[1:] if ast.get_docstring(node, clean=False) is not None else node.body
    if isinstance(node, ast.ClassDef) or not all(isinstance(s, ast.Pass) for s in body):
        return _free(node)
    return set().union(*(_free(d) for d in node.decorator_list))


def attack_extent(
    found: list[tuple[str | None, frozenset[str], str]], check_ids: list[str]
) -> dict[str, str | None]:
    """{attack: the last check it must run through (None: the whole notebook)}; an attack
    absent has no channel. Cells after that check cannot change a verdict (the checks after
    it have no channel), so the forged notebook stops there: the grader re-inserts the
    missing check cells at the end, where they fail at once."""
    extent: dict[str, str | None] = {}
    for attack in ATTACKS:
        mine = [cid for cid, attacks, _ in found if attack in attacks]
        if not mine:
            continue
        if None in mine:
            extent[attack] = None
        else:
            extent[attack] = max(mine, key=check_ids.index)
    return extent


def _cut(nb: dict[str, Any], last: str | None) -> dict[str, Any]:
    if last is None:
        return nb
    index = next((i for i, c in enumerate(nb["cells"]) if c.get("id") == last), None)
    if index is not None:
        nb["cells"] = nb["cells"][: index + 1]
    return nb


def write_attacks(
    lab_nb: dict[str, Any],
    solution: dict[str, Any],
    snapshots: Path,
    check_ids: list[str],
    submissions: Path,
    name: str,
    extent: dict[str, str | None] | None = None,
) -> list[str]:
    """Write ``submissions/<attack>/<name>`` for each attack of ``extent`` (default: both,
    whole notebooks), cut after the check ``extent`` names; the attacks written."""
    extent = {a: None for a in ATTACKS} if extent is None else extent
    written = []
    for attack in ATTACKS:
        if attack not in extent:
            continue
        if attack == "snapshot":
            if not Path(snapshots).is_dir():
                continue
            nb = _cut(forged_snapshot(lab_nb, Path(snapshots), check_ids), extent[attack])
        else:
            nb = _cut(swapped_references(lab_nb, solution), extent[attack])
        folder = Path(submissions) / attack
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(json.dumps(nb), encoding="utf-8")
        written.append(attack)
    return written


def snapshot_folder(scratch: str | None = None) -> str | None:
    """Where the kernel saves snapshots (only when the grader asked for them)."""
    if os.environ.get(SNAPSHOT_ENV) != "1":
        return None
    base = scratch or os.environ.get("COURSE_JUDGE_SCRATCH") or os.getcwd()
    return os.path.join(base, "snapshots")
