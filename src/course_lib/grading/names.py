"""Where a dotted ``course_lib`` name is defined, read from the package's own source.

Exercises name the library functions they forbid by their public path
(``"course_lib.data.word_counts"``). Modules move and packages re-export, so the grader
never trusts a list of file names: it reads every module of the package (as syntax trees,
without importing anything) and follows imports to the module that *defines* each name:

* :meth:`PackageIndex.resolve` - the defining name (``course_lib.data.splits.word_counts``),
  which is what the stubbed copies replace (:mod:`course_lib.grading.stubs`);
* :meth:`PackageIndex.aliases` - every other public path to the same object, which the
  static check (:mod:`course_lib.grading.policy`) also looks for.

A forbidden name that no module defines is an error (:class:`UnknownName`), so a moved
function is never silently left unprotected.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from course_lib.errors import CourseLibError

PACKAGE = "course_lib"
_MAX_HOPS = 8  # re-exports followed before giving up (a cycle of imports)


class UnknownName(CourseLibError):
    """A dotted ``course_lib`` name that no module of the package defines."""


def module_name(relative: Path) -> str:
    """``course_lib.x.y`` for the file ``x/y.py`` (or ``x/y/__init__.py``) of the package."""
    parts = list(relative.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([PACKAGE, *parts])


@dataclass
class _Module:
    defined: set[str] = field(default_factory=set)  # top-level def/class names
    imported: dict[str, str] = field(default_factory=dict)  # local name -> dotted origin


def _read_module(source: str, module: str, is_package: bool) -> _Module:
    tree = ast.parse(source)
    info = _Module()
    package = module if is_package else module.rpartition(".")[0]
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            info.defined.add(node.name)
        elif isinstance(node, ast.ImportFrom):
            origin = node.module or ""
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join([*base, origin] if origin else base)
            for alias in node.names:
                if alias.name != "*":
                    info.imported[alias.asname or alias.name] = f"{origin}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    info.imported[alias.asname] = alias.name
    return info


class PackageIndex:
    """The names each module of a ``course_lib`` source folder defines and imports."""

    def __init__(self, source_dir: Path) -> None:
        self.modules: dict[str, _Module] = {}
        self._aliases: dict[str, set[str]] | None = None  # defining name -> other paths
        source_dir = Path(source_dir)
        for folder, dirs, files in os.walk(source_dir):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith(".py"):
                    relative = Path(folder, name).relative_to(source_dir)
                    text = (source_dir / relative).read_text(encoding="utf-8")
                    module = module_name(relative)
                    self.modules[module] = _read_module(text, module, name == "__init__.py")

    def _split(self, name: str) -> tuple[str, list[str]] | None:
        """The longest module prefix of ``name`` and the rest, split on dots."""
        parts = name.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            module = ".".join(parts[:cut])
            if module in self.modules:
                return module, parts[cut:]
        return None

    def resolve(self, name: str) -> str:
        """The defining ``module.qualname`` of a dotted ``course_lib`` name (a module's
        own name for a module).

        Raises:
            UnknownName: no module of the package defines it.
        """
        if name in self.modules:  # a whole module (the static check looks for its imports)
            return name
        current = name
        for _ in range(_MAX_HOPS):
            found = self._split(current)
            if found is None:
                break
            module, rest = found
            info = self.modules[module]
            if rest[0] in info.defined:
                return ".".join([module, *rest])
            origin = info.imported.get(rest[0])
            if origin is None or not origin.startswith(PACKAGE + "."):
                break
            current = ".".join([origin, *rest[1:]])
        raise UnknownName(
            f"{name} is not defined in {PACKAGE} (was it moved or renamed? update the "
            f"exercise's forbidden names)"
        )

    def aliases(self, name: str) -> set[str]:
        """Every dotted name of the package that resolves to the same object as ``name``
        (``name`` itself included)."""
        target = self.resolve(name)
        if self._aliases is None:
            self._aliases = {}
            for module, info in self.modules.items():
                for local in info.imported:
                    try:
                        origin = self.resolve(f"{module}.{local}")
                    except UnknownName:
                        continue
                    self._aliases.setdefault(origin, set()).add(f"{module}.{local}")
        return {name, target} | self._aliases.get(target, set())

    def resolve_all(self, names: Iterable[str]) -> set[str]:
        """The defining names of the ``course_lib`` names among ``names`` (others, such as
        ``torch.softmax``, are left out).

        Raises:
            UnknownName: naming every ``course_lib`` name that no module defines.
        """
        resolved, unknown = set(), []
        for name in names:
            if not name.startswith(PACKAGE + "."):
                continue
            try:
                resolved.add(self.resolve(name))
            except UnknownName:
                unknown.append(name)
        if unknown:
            raise UnknownName(
                f"{', '.join(sorted(unknown))}: not defined in {PACKAGE} (moved or renamed? "
                f"update the exercise's forbidden names)"
            )
        return resolved
