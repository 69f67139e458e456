"""The package conflicts the course knows, and their fixes, applied before anything imports them.

Every notebook's setup cell runs, right after it has found ``common`` and before it imports
TensorFlow::

    from common import colab  # imports no TensorFlow, protobuf or tensorflow-datasets
    colab.fix_known_conflicts()

On Colab (``google.colab`` importable) each :data:`KNOWN_FIXES` entry whose condition holds is
applied: the installed versions are read with :mod:`importlib.metadata` (nothing is imported),
and the compatible package is installed quietly with pip, in the same process, so that no
runtime restart is needed. Anywhere else nothing is changed: a machine with the pinned
``requirements.txt`` has no conflict, and one that does gets ``common.data``'s clear error
(:class:`common.data.PackageConflictError`), as does a conflict not listed here.

To add a fix: one :class:`KnownFix` in :data:`KNOWN_FIXES`, with the issue it comes from; the
``make test-colab`` first-contact test then exercises it on Colab's package set.
``COURSE_KNOWN_FIXES=off`` disables every fix (the test shows that the labs then fail).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import dataclass

DISABLE_ENV = "COURSE_KNOWN_FIXES"  # "off": apply no fix (a kill switch, and the test's control)


@dataclass(frozen=True)
class KnownFix:
    """A known conflict: ``package`` ≥ ``from_version`` with ``needs`` < ``needs_version``."""

    package: str  # the distribution whose release conflicts, e.g. "tensorflow-metadata"
    from_version: str  # the first release that conflicts
    needs: str  # the distribution it conflicts with, e.g. "protobuf"
    needs_version: str  # the version of ``needs`` the conflicting releases require
    install: str  # the pip requirement that fixes it, e.g. "tensorflow-metadata<1.18"
    modules: tuple[str, ...]  # top-level modules that must not be imported before the fix
    issue: str  # where the conflict was found and described
    why: str

    def applies(self) -> bool:
        """The conflict is installed here (read from package metadata, nothing imported)."""
        have, other = _installed(self.package), _installed(self.needs)
        return (
            have is not None
            and other is not None
            and _version(have) >= _version(self.from_version)
            and _version(other) < _version(self.needs_version)
        )


KNOWN_FIXES: tuple[KnownFix, ...] = (
    KnownFix(
        package="tensorflow-metadata",
        from_version="1.18",
        needs="protobuf",
        needs_version="6.31.1",
        # Its last releases generated with protobuf 5 (1.17.x) import on Colab's protobuf 5.29.
        install="tensorflow-metadata<1.18",
        modules=("tensorflow_metadata", "tensorflow_datasets"),
        issue="course issue 26 (Colab, 2026); tensorflow/metadata issue 68",
        why=(
            "tensorflow-metadata 1.18 onwards is generated with protobuf 6.31.1, but Colab's "
            "TensorFlow keeps protobuf 5.29, so `import tensorflow_datasets` raises protobuf's "
            "VersionError"
        ),
    ),
)


class FixError(RuntimeError):
    """A known fix could not be installed; the message says which and the command to run."""


def on_colab() -> bool:
    """True inside a Google Colab runtime (``google.colab`` importable)."""
    if "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ:
        return True
    try:
        return importlib.util.find_spec("google.colab") is not None
    except (ImportError, ValueError):  # no `google` package at all
        return False


def fix_for(package: str) -> KnownFix | None:
    """The known fix for ``package``, if any (``common.data`` names it in its error)."""
    return next((fix for fix in KNOWN_FIXES if fix.package == package), None)


def fix_known_conflicts(colab: bool | None = None) -> list[KnownFix]:
    """Apply every known fix whose conflict is installed; returns those applied.

    Only on Colab (or with ``colab=True``): elsewhere the environment is the user's own and
    nothing is installed. Prints nothing when all goes well (the setup cell's output is its one
    line); raises :class:`FixError` when pip fails, with the command to run by hand.
    """
    if os.environ.get(DISABLE_ENV, "").strip().lower() in ("off", "0", "no", "false"):
        return []
    if not (on_colab() if colab is None else colab):
        return []
    applied = []
    for fix in KNOWN_FIXES:
        if not fix.applies():
            continue
        loaded = [m for m in fix.modules if m in sys.modules]
        if loaded:  # too late for this process: the old module is in memory
            raise FixError(
                f"{fix.package} conflicts with {fix.needs} ({fix.why}; {fix.issue}), and "
                f"{', '.join(loaded)} is already imported. Restart the runtime (Colab: Runtime "
                "→ Restart session) and run the notebook from the top: its setup cell fixes "
                "it before anything imports it."
            )
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        done = subprocess.run([*command, fix.install], capture_output=True, text=True)
        if done.returncode != 0:
            raise FixError(
                f"Could not install {fix.install!r}, the fix for a known conflict ({fix.why}; "
                f"{fix.issue}). pip said:\n{done.stderr[-1500:]}\nRun it yourself, then "
                f'restart the runtime:\n    %pip install "{fix.install}"'
            )
        applied.append(fix)
    if applied:
        importlib.invalidate_caches()  # the finders must see the files pip just wrote
    return applied


def _installed(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _version(text: str) -> tuple[int, ...]:
    """``"1.21.0"`` → ``(1, 21, 0)``; pre-release and local tails are ignored."""
    parts = []
    for piece in text.split("."):
        digits = re.match(r"\d+", piece)
        if not digits:
            break
        parts.append(int(digits.group()))
        if digits.group() != piece:
            break
    return tuple(parts + [0] * (4 - len(parts)))  # "1.18" == "1.18.0"
