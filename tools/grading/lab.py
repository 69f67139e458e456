"""The lab being graded: its canonical setup and check cells, and what each check needs.

Read from ``solutions/NN_*.ipynb`` (hidden checks included). ``Lab.plan`` says, for every
check, which of its free names the judge computes itself (setup cell, check cells, provided
cells that need no student code) and which it asks the student's kernel for, by value.
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import notebooks

ROOT = notebooks.ROOT
SOLUTIONS = notebooks.SOLUTIONS
LAB_RE = re.compile(r"^\d{1,2}$")
SOLUTION_MARK = "### BEGIN SOLUTION"
NBVAL_MARKER_RE = re.compile(r"^\s*#+\s*(NBVAL_[A-Z_]+|PYTEST_VALIDATE_IGNORE_OUTPUT)\s*$")
DEFAULT_CELL_TIMEOUT = 300.0
DEFAULT_STUDENT_TIMEOUT = 1200.0
DEFAULT_PROFILE = "smoke"


class GradeError(Exception):
    """A usage error found before anything runs (unknown lab, no submissions folder)."""


# --------------------------------------------------------------------------- the lab


@dataclass(frozen=True)
class Check:
    id: str
    points: float
    cell_index: int  # position in the solution notebook


@dataclass(frozen=True)
class CheckPlan:
    """What the judge does for one check cell.

    ``local``: free names the judge resolves itself (setup cell, earlier check cells, its own
    statements, builtins); ``remote``: free names fetched from the student's kernel.
    ``steps``: (label "cell.statement", source) of the statements the judge runs first.
    """

    local: tuple[str, ...]
    remote: tuple[str, ...]
    steps: tuple[tuple[str, str], ...]
    # remote name -> the kind the judge must receive: "model", "function", "class" (declared in
    # the check cell's ``metadata.course.kernel``, or a def/class of an exercise cell), or
    # "value: <reason>" (declared); a remote name absent here is undeclared (see ``rule_problems``).
    kinds: tuple[tuple[str, str], ...] = ()
    # remote name -> (cell index, role, statement kind) of its last binding before the check,
    # e.g. (18, "exercise", "Assign"); cell index -1 when no cell binds it.
    origins: tuple[tuple[str, int, str, str], ...] = ()
    declared: tuple[tuple[str, str], ...] = ()  # the check cell's ``kernel`` mapping, as written
    # a remote name bound by a course statement -> why it is the kernel's ("it needs START")
    reasons: tuple[tuple[str, str], ...] = ()

    def kind(self, name: str) -> str | None:
        return dict(self.kinds).get(name)


@dataclass
class Lab:
    number: str  # "00"
    path: Path  # the solution notebook
    solution: dict[str, Any]
    canonical: dict[str, dict[str, Any]]  # setup/check cell id -> canonical cell (solution)
    versions: dict[str, set[str]]  # cell id -> its normalised solution and lab sources
    checks: list[Check]
    plan: dict[str, CheckPlan] = field(default_factory=dict)  # check id -> what it needs

    @property
    def stem(self) -> str:
        return self.path.stem

    @property
    def max_score(self) -> float:
        return sum(c.points for c in self.checks)


def _norm(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def _text(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    if isinstance(src, list):
        return "".join(s if isinstance(s, str) else str(s) for s in src)
    return src if isinstance(src, str) else ""


def _canonical_id(cell: dict[str, Any]) -> str | None:
    info = notebooks.course_meta(cell)
    if info.get("role") == "setup":
        return "setup"
    if info.get("role") == "check" and info.get("id"):
        return str(info["id"])
    return None


def available_labs(solutions: Path = SOLUTIONS) -> list[str]:
    return sorted({p.name[:2] for p in Path(solutions).glob("*.ipynb") if p.name[:2].isdigit()})


def load_lab(lab: str, solutions: Path = SOLUTIONS) -> Lab:
    """The canonical setup and check cells of lab ``lab`` ("00", "5", …) from ``solutions``."""
    lab = str(lab).strip()
    known = available_labs(solutions)
    if not LAB_RE.match(lab):
        raise GradeError(
            f"LAB should be a lab number such as 00 or 5, received {lab!r}. "
            f"Expected one of: {', '.join(known) or '(none: no solution notebooks)'}."
        )
    number = lab.zfill(2)
    matches = sorted(Path(solutions).glob(f"{number}_*.ipynb"))
    if not matches:
        raise GradeError(
            f"Unknown lab {lab!r}: there is no {solutions}/{number}_*.ipynb. "
            f"Expected one of: {', '.join(known) or '(none: no solution notebooks)'}."
        )
    path = matches[0]
    try:
        solution = notebooks.read(path)
        lab_nb = notebooks.generate_lab(solution, f"labs/{path.name}", _course())
    except notebooks.NotebookError as err:
        raise GradeError(f"The solution notebook cannot be used for grading: {err}") from err
    lab_sources = {c.get("id"): _text(c) for c in lab_nb["cells"]}
    canonical: dict[str, dict[str, Any]] = {}
    versions: dict[str, set[str]] = {}
    checks: list[Check] = []
    for index, cell in enumerate(solution["cells"]):
        cid = _canonical_id(cell)
        if cid is None:
            continue
        if cid in canonical:
            raise GradeError(f"{path}: the setup/check id {cid!r} is used twice.")
        if cell.get("id") != cid:
            raise GradeError(f"{path}: cell {index} should have the cell id {cid!r}.")
        canonical[cid] = cell
        versions[cid] = {_norm(_text(cell)), _norm(lab_sources.get(cid, _text(cell)))}
        if cid != "setup":
            points = notebooks.course_meta(cell).get("points")
            if not isinstance(points, (int, float)) or isinstance(points, bool) or points <= 0:
                raise GradeError(f"{path}: check {cid!r} needs positive points, has {points!r}.")
            checks.append(Check(cid, float(points), index))
    if not checks:
        raise GradeError(f"{path}: has no check cells, so there is nothing to grade.")
    return Lab(number, path, solution, canonical, versions, checks, plan_checks(solution))


def _course() -> notebooks.Course:
    try:
        return notebooks.course_config(ROOT)
    except (notebooks.NotebookError, OSError):
        return notebooks.Course("owner/name", "main")


def _what(cid: str) -> str:
    return "the setup cell" if cid == "setup" else f"check {cid}"


# --------------------------------------------------------------------------- what a check needs


class _Names(ast.NodeVisitor):
    """Names a cell binds at any level and names it loads (a generous over-approximation)."""

    def __init__(self) -> None:
        self.bound: set[str] = set()
        self.loaded: set[str] = set()

    def visit_Name(self, node: ast.Name) -> None:
        (self.loaded if isinstance(node.ctx, ast.Load) else self.bound).add(node.id)

    def _bind_def(self, node: Any) -> None:
        self.bound.add(node.name)
        self.generic_visit(node)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _bind_def

    def visit_arg(self, node: ast.arg) -> None:
        self.bound.add(node.arg)

    def visit_alias(self, node: ast.alias) -> None:
        self.bound.add((node.asname or node.name).split(".")[0])

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.bound.add(node.name)
        self.generic_visit(node)


def cell_names(source: str) -> tuple[set[str], set[str]] | None:
    """(bound, free) names of a cell, or None when it is not plain Python (magics, errors)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    names = _Names()
    names.visit(tree)
    top: set[str] = set()  # names bound at the top level: what later cells can use
    for node in tree.body:
        sub = _Names()
        sub.visit(node)
        top |= sub.bound
    return top, names.loaded - names.bound


def cell_role(cell: dict[str, Any]) -> str:
    """setup, check, exercise (holds a solution) or provided (course code, no answer)."""
    info = notebooks.course_meta(cell)
    if info.get("role") in ("setup", "check"):
        return str(info["role"])
    return "exercise" if SOLUTION_MARK in _text(cell) else "provided"


def _top_bound(node: ast.AST) -> set[str]:
    """Names a statement binds in the module's scope (not inside functions, classes, lambdas)."""
    found: set[str] = set()

    def walk(n: ast.AST) -> None:
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(n.name)
            for d in n.decorator_list:
                walk(d)
            return
        if isinstance(n, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            return
        if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load):
            found.add(n.id)
        elif isinstance(n, ast.alias):
            found.add((n.asname or n.name).split(".")[0])
        elif isinstance(n, ast.ExceptHandler) and n.name:
            found.add(n.name)
        for child in ast.iter_child_nodes(n):
            walk(child)

    walk(node)
    return found


def _root(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _acts_on(stmt: ast.stmt) -> set[str]:
    """Names a statement changes in place: ``x.compile(...)``, ``x.a = 1``, ``x[i] = v`` (also
    inside a ``for``/``if``/``with`` block at the top level)."""
    if isinstance(stmt, (ast.For, ast.AsyncFor, ast.While, ast.If, ast.With, ast.Try)):
        found: set[str] = set()
        for field_name in ("body", "orelse", "finalbody", "handlers"):
            for inner in getattr(stmt, field_name, []):
                for sub in getattr(inner, "body", None) or [inner]:
                    if isinstance(sub, ast.stmt):
                        found |= _acts_on(sub)
        return found
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        func = stmt.value.func
        root = _root(func) if isinstance(func, ast.Attribute) else None
        return {root} if root else set()
    targets = list(stmt.targets) if isinstance(stmt, ast.Assign) else []
    if isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
        targets = [stmt.target]
    while any(isinstance(t, (ast.Tuple, ast.List, ast.Starred)) for t in targets):
        targets = [
            e
            for t in targets
            for e in (
                t.elts
                if isinstance(t, (ast.Tuple, ast.List))
                else [t.value]
                if isinstance(t, ast.Starred)
                else [t]
            )
        ]
    return {r for t in targets if isinstance(t, (ast.Attribute, ast.Subscript)) and (r := _root(t))}


def _handed_over(stmt: ast.stmt, student: Any, declared: set[str]) -> set[str]:
    """Names a statement of the student's (or one that needs the student's) hands to the kernel.

    Changed in place (``_acts_on``: ``x.compile(...)``, ``x[i] = v``): always. Passed as a
    plain-name argument to a call of a kernel-owned name (``student(name)``: a student's
    function or class, ``train(rnn, data)``): only when some check declares the name in its
    ``metadata.course.kernel`` (``{"rnn": "model"}``), i.e. when a check wants the state the
    student's code left on it. Otherwise the course object stays the judge's: the call runs in
    the kernel on the kernel's copy, and checks (and the judge's later course statements) use
    the judge's original, e.g. lab 07's ``tgt_vocab`` passed to ``greedy_decode``. Arguments of
    method calls (``ax.axhline(BASELINE_MSE)``, ``model.fit(x)``) are only read: never handed.
    """
    found = _acts_on(stmt)
    for node in ast.walk(stmt):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and student(node.func.id):
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                if isinstance(arg, ast.Name) and arg.id in declared:
                    found.add(arg.id)
    return found


DECLARED_KINDS = ("model", "function", "class")


def declared_kernel(cell: dict[str, Any]) -> dict[str, Any]:
    """A check cell's ``metadata.course.kernel`` mapping {name: kind} (empty when absent)."""
    found = notebooks.course_meta(cell).get("kernel")
    return found if isinstance(found, dict) else {}


def valid_kind(kind: Any) -> bool:
    return isinstance(kind, str) and (
        kind in DECLARED_KINDS or (kind.startswith("value:") and bool(kind[6:].strip()))
    )


def _cap_text(text: str, size: int = 60) -> str:
    text = text.strip()
    return text if len(text) <= size else text[: size - 1] + "…"


def _free(node: ast.AST) -> set[str]:
    names = _Names()
    names.visit(node)
    return names.loaded - names.bound


def plan_checks(solution: dict[str, Any]) -> dict[str, CheckPlan]:
    """For every check: which names the judge computes and which come from the kernel.

    The unit is a top-level statement of a provided cell (no ``### BEGIN SOLUTION``) or an
    import statement of any cell. The judge runs such a statement itself when each name it
    needs is the judge's: bound last by the setup cell, a check cell or another judge
    statement, or a builtin; a check's plan lists the judge statements it needs (and those of
    the same cell that only act on their names, e.g. ``model.compile(...)``), in order.
    Anything bound last by an exercise cell (or a statement that needs one), or by no cell
    at all, is the student's and is fetched from the kernel by value; so is a course object
    that a statement of the student's (or one that needs the student's) may have changed: a
    receiver of its calls or a target of its assignments (``rnn.fit(x)``, ``logs[k] = v``).
    A course object passed as an argument to a student's function (``train(rnn, data)``) stays
    the judge's unless a check declares it in ``metadata.course.kernel`` (``_handed_over``);
    statements that only read course names (``ax.axhline(BASELINE_MSE)``) hand nothing over.

    Each plan also says, per remote name, the kind the judge must receive (``kinds``: declared,
    or "function"/"class" for a def/class of an exercise cell) and the cell that binds it
    (``origins``), which ``rule_problems`` (``make check``) checks against the grading rule.
    """
    owner: dict[str, tuple[str, Any]] = {}  # name -> ("judge"|"kernel", unit or None)
    # (cell, statement) -> (source, names it binds, names it changes in place)
    units: dict[tuple[int, int], tuple[str, set[str], set[str]]] = {}
    needs: dict[tuple[int, int], set[tuple[int, int]]] = {}
    imports: set[tuple[int, int]] = set()  # units that are import statements (modules)
    plans: dict[str, CheckPlan] = {}
    binder: dict[str, tuple[int, str, str]] = {}  # name -> (cell, role, statement kind)
    why: dict[str, str] = {}  # a course name -> why it is the kernel's (for `make check`)
    cells = solution.get("cells", [])
    declared_anywhere = {
        str(name)
        for cell in cells
        if cell.get("cell_type") == "code" and cell_role(cell) == "check"
        for name in declared_kernel(cell)
    }

    def judges(name: str) -> bool:
        where = owner.get(name)
        return where[0] == "judge" if where else hasattr(builtins, name)

    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        role = cell_role(cell)
        text = _text(cell)
        try:
            tree = ast.parse(text)
        except SyntaxError:
            tree = None
        if role == "check":
            free = _free(tree) if tree else set()
            local = sorted(n for n in free if judges(n))
            remote = sorted(n for n in free if not judges(n))
            chosen: set[tuple[int, int]] = set()
            todo = [owner[n][1] for n in local if n in owner and owner[n][1] is not None]
            while todo:
                unit = todo.pop()
                if unit in chosen:
                    continue
                chosen.add(unit)
                todo += sorted(needs[unit])
                _src, bound, _ = units[unit]
                for other, (_s, _b, acts) in units.items():  # statements changing its names
                    if other[0] == unit[0] and other[1] > unit[1] and acts & bound:
                        todo.append(other)
            steps = tuple((f"{c}.{k}", units[(c, k)][0]) for c, k in sorted(chosen))
            cid = str(notebooks.course_meta(cell).get("id"))
            declared = {str(k): v for k, v in declared_kernel(cell).items()}
            kinds, origins, reasons = [], [], []
            for name in remote:
                where = binder.get(name, (-1, "", ""))
                origins.append((name, *where))
                if name in why and where[1] != "exercise":
                    reasons.append((name, why[name]))
                if valid_kind(declared.get(name)):
                    kinds.append((name, declared[name]))
                elif where[1] == "exercise" and where[2] in ("FunctionDef", "AsyncFunctionDef"):
                    kinds.append((name, "function"))
                elif where[1] == "exercise" and where[2] == "ClassDef":
                    kinds.append((name, "class"))
            plans[cid] = CheckPlan(
                tuple(local),
                tuple(remote),
                steps,
                tuple(kinds),
                tuple(origins),
                tuple((k, str(v)) for k, v in declared.items()),
                tuple(reasons),
            )
        for stmt in tree.body if tree else ():
            for name in _top_bound(stmt):
                binder[name] = (index, role, type(stmt).__name__)
        if role in ("setup", "check"):
            for name in _top_bound(tree) if tree else ():
                owner[name] = ("judge", None)
            continue
        if tree is None:
            continue
        for k, stmt in enumerate(tree.body):
            bound = _top_bound(stmt)
            is_import = isinstance(stmt, (ast.Import, ast.ImportFrom)) and not getattr(
                stmt, "level", 0
            )
            free = _free(stmt)
            mine = is_import or (role == "provided" and all(judges(n) for n in free))
            if mine:
                unit = (index, k)
                source = ast.get_source_segment(text, stmt) or ast.unparse(stmt)
                units[unit] = (source, bound, _acts_on(stmt))
                needs[unit] = {owner[n][1] for n in free if n in owner and owner[n][1]}
            theirs = sorted(n for n in free if not judges(n))
            for name in bound:
                owner[name] = ("judge", (index, k)) if mine else ("kernel", None)
                if not mine and role == "provided":
                    why[name] = f"it needs {', '.join(theirs) or 'the student'}"
            if not mine:  # the student's code may have changed the course objects it touched
                handed = _handed_over(stmt, lambda n: not judges(n), declared_anywhere)
                for name in handed - bound:
                    where = owner.get(name)
                    if where and where[0] == "judge" and where[1] not in (None, *imports):
                        owner[name] = ("kernel", None)
                        line = (ast.get_source_segment(text, stmt) or "").splitlines()[:1]
                        why[name] = f"cell {index} changes it: `{_cap_text(''.join(line))}`"
            elif is_import:
                imports.add((index, k))
    return plans


# --------------------------------------------------------------------------- the grading rule

# `make check` runs ``rule_problems`` on every solution notebook. While the labs are being
# brought under the rule, ``LINT_STRICT = False`` makes `make check` print the problems as
# warnings instead of failing; True (the default) fails on them.
LINT_STRICT = True

RULE_HINT = (
    "move it to a provided cell, or recompute it in the check, or declare it in the check "
    'cell\'s metadata.course.kernel as {name!r}: "model" | "function" | "class" | '
    '"value: <why this value must come from the student\'s kernel>"'
)


def rule_problems(solution: dict[str, Any], relpath: str) -> list[str]:
    """Where a check breaks the grading rule (DESIGN §3, issue 25): [] when every check keeps it.

    Each remote name of each check (``plan_checks``) must be a def/class of an exercise cell
    (the student's function or class, called by the judge) or be declared in the check cell's
    ``metadata.course.kernel`` mapping {name: "model" | "function" | "class" | "value: why"};
    a declaration must name a remote name of the check (else it is stale) with a valid kind.
    """
    problems: list[str] = []
    plans = plan_checks(solution)
    for index, cell in enumerate(solution.get("cells", [])):
        if cell.get("cell_type") != "code" or cell_role(cell) != "check":
            continue
        cid = str(notebooks.course_meta(cell).get("id"))
        plan = plans.get(cid)
        if plan is None:
            continue
        where = f"{relpath}: check {cid} (cell {index})"
        origins = {name: (i, role, kind) for name, i, role, kind in plan.origins}
        declared = declared_kernel(cell)
        for name in plan.remote:
            if plan.kind(name):
                continue
            i, role, kind = origins.get(name, (-1, "", ""))
            bound = (
                f"bound by cell {i} ({role} cell, {kind} statement)"
                if i >= 0
                else "bound by no cell before it"
            )
            if name in dict(plan.reasons):
                bound += f", the kernel's because {dict(plan.reasons)[name]}"
            problems.append(
                f"{where} takes {name!r} from the student's kernel, {bound}: a check may only "
                f"take the student's functions, classes and models; {RULE_HINT.format(name=name)}."
            )
        for name, kind in declared.items():
            if not valid_kind(kind):
                problems.append(
                    f'{where} declares {name!r} with the kind {kind!r}; expected "model", '
                    '"function", "class" or "value: <reason>".'
                )
            elif name not in plan.remote:
                problems.append(
                    f"{where} declares {name!r} in metadata.course.kernel, but the judge computes "
                    f"it itself (or the check does not use it): remove the stale declaration."
                )
    return problems
