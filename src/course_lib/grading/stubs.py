"""Stubbed copies of ``course_lib`` for the sandbox: what student code may reach, per exercise.

Student code imports ``course_lib`` in the sandbox, so the package must be there; but the
reference implementations (``reference_*`` in ``course_lib.exercises``) and the library
functions an exercise asks the student to write must not be. The grader (trusted, outside
the sandbox) builds a *stage* folder:

* ``base/course_lib``: a copy of the package in which every ``reference_*`` function of
  ``course_lib.exercises`` and every function forbidden by any exercise of the run has
  its body replaced by ``raise ForbiddenUse("<dotted name>")``. The harness process
  imports from here (and only from here) before it forks.
* ``ex/<n>/course_lib``: the copy for exercise ``n`` of the run: every ``reference_*``,
  that exercise's forbidden functions and its own reference (when it is a ``course_lib``
  function) stubbed, everything else as in the real package. Unchanged files are hard
  links to ``base``'s copies.

The transform works on the syntax tree: a forbidden function (or method) keeps its
signature, decorators and docstring; a forbidden class keeps its bases and attributes and
every method raises. Compiled files (``__pycache__``) are never copied, so the original
code exists nowhere in the stage. Inside bubblewrap each exercise's process sees only its
own copy (see :mod:`course_lib.grading.harness`).
"""

from __future__ import annotations

import ast
import functools
import os
import shutil
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

import course_lib
from course_lib.exercises import Exercise
from course_lib.grading.folders import remove_tree, temporary_folder
from course_lib.grading.names import PACKAGE, PackageIndex, module_name

REFERENCE_PREFIXES = ("reference_", "_reference_")
EXERCISES_PACKAGE = "course_lib.exercises"


def package_dir() -> Path:
    """The real ``course_lib`` folder this grader runs from."""
    return Path(course_lib.__file__).resolve().parent


def reference_name(function: object) -> str | None:
    """``module.qualname`` of a ``course_lib`` function used as a reference, else ``None``."""
    module = getattr(function, "__module__", None) or ""
    qualname = getattr(function, "__qualname__", None) or ""
    if not module.startswith(PACKAGE + ".") or not qualname or "<" in qualname:
        return None
    return f"{module}.{qualname}"


def _raise_body(name: str, docstring: ast.stmt | None) -> list[ast.stmt]:
    call = ast.parse(
        f"raise __import__('course_lib.exercises.core', fromlist=['ForbiddenUse'])"
        f".ForbiddenUse({name!r})"
    ).body
    return ([docstring] if docstring is not None else []) + call


def _docstring(node: ast.AST) -> ast.stmt | None:
    body = getattr(node, "body", [])
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        if isinstance(body[0].value.value, str):
            return body[0]
    return None


class _Stubber(ast.NodeTransformer):
    """Replaces the bodies of the named functions, methods and classes of one module."""

    def __init__(self, module: str, qualnames: set[str], references: bool) -> None:
        self.module = module
        self.qualnames = qualnames
        self.references = references
        self.path: list[str] = []
        self.stubbed: set[str] = set()
        self.whole_class: list[bool] = [False]

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        qualname = ".".join([*self.path, node.name])
        top_level_reference = (
            self.references and not self.path and node.name.startswith(REFERENCE_PREFIXES)
        )
        if qualname in self.qualnames or self.whole_class[-1] or top_level_reference:
            node.body = _raise_body(f"{self.module}.{qualname}", _docstring(node))
            self.stubbed.add(qualname)
            return node
        self.path.append(node.name)
        self.whole_class.append(False)
        self.generic_visit(node)
        self.whole_class.pop()
        self.path.pop()
        return node

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        qualname = ".".join([*self.path, node.name])
        whole = self.whole_class[-1] or qualname in self.qualnames
        if whole:
            self.stubbed.add(qualname)
        self.path.append(node.name)
        self.whole_class.append(whole)
        self.generic_visit(node)
        self.whole_class.pop()
        self.path.pop()
        return node


def stub_source(source: str, module: str, names: Iterable[str]) -> tuple[str, set[str]]:
    """``source`` of ``module`` with the functions/classes in ``names`` (dotted, absolute)
    stubbed, plus its ``reference_*`` functions when it is in ``course_lib.exercises``.

    Returns the new source (``source`` itself when nothing changed) and the stubbed
    qualified names.
    """
    qualnames = {name[len(module) + 1 :] for name in names if name.startswith(module + ".")}
    references = module == EXERCISES_PACKAGE or module.startswith(EXERCISES_PACKAGE + ".")
    if not qualnames and not (references and "reference_" in source):
        return source, set()
    tree = ast.parse(source)
    stubber = _Stubber(module, qualnames, references)
    tree = stubber.visit(tree)
    if not stubber.stubbed:
        return source, set()
    ast.fix_missing_locations(tree)
    return "# stubbed copy made by the course-lib grader\n" + ast.unparse(tree) + "\n", {
        f"{module}.{q}" for q in stubber.stubbed
    }


def _ignore(_folder: str, names: list[str]) -> list[str]:
    return [n for n in names if n == "__pycache__" or n.endswith((".pyc", ".pyo"))]


def _copy_stubbed(
    source_dir: Path,
    target: Path,
    names: set[str],
    link_from: Path | None,
    cache: dict | None = None,
) -> None:
    """Copy the package ``source_dir`` to ``target``, stubbing ``names``; files equal to
    ``link_from``'s are hard-linked to them. ``cache`` keeps transformed sources between
    copies (the same module with the same names to stub gives the same text)."""
    cache = {} if cache is None else cache
    for folder, dirs, files in os.walk(source_dir):
        dirs[:] = [d for d in dirs if d not in _ignore(folder, dirs)]
        relative_folder = Path(folder).relative_to(source_dir)
        (target / relative_folder).mkdir(parents=True, exist_ok=True)
        (target / relative_folder).chmod(0o755)
        for name in files:
            if name in _ignore(folder, files):
                continue
            relative = relative_folder / name
            destination = target / relative
            data: bytes | None = None
            if name.endswith(".py"):
                module = module_name(relative)
                key = (relative, frozenset(n for n in names if n.startswith(module + ".")))
                if key not in cache:
                    text = (source_dir / relative).read_text(encoding="utf-8")
                    cache[key] = stub_source(text, module, names)[0].encode("utf-8")
                data = cache[key]
            if link_from is not None:
                existing = link_from / relative
                same = data is None or (existing.exists() and existing.read_bytes() == data)
                if same:
                    try:
                        os.link(existing, destination)
                        continue
                    except OSError:
                        pass
            if data is None:
                shutil.copyfile(source_dir / relative, destination)
            else:
                destination.write_bytes(data)
            destination.chmod(0o644)


def build_stage(
    stage: Path,
    stubs: Mapping[str, Iterable[str]],
    source_dir: Path | None = None,
    index: PackageIndex | None = None,
) -> dict[str, str]:
    """Write the stage folder: ``base/`` and one ``ex/<n>/`` per key of ``stubs``.

    Args:
        stage: an empty (or missing) folder, outside anything the sandbox shows.
        stubs: exercise id -> dotted names to stub for it (forbidden names and its own
            reference; ``reference_*`` functions are always stubbed). A name is followed
            through re-exports to the module that defines it (:mod:`course_lib.grading.names`).
            Names outside ``course_lib`` (``torch.softmax``) are ignored here: the
            harness patches them.
        source_dir: the package to copy (default: the real one).
        index: the names of ``source_dir`` (read here when not given).

    Returns:
        exercise id -> the name of its folder under ``ex/``.

    Raises:
        UnknownName: a ``course_lib`` name that the package does not define.
    """
    source_dir = Path(source_dir or package_dir())
    index = index or PackageIndex(source_dir)
    own = {k: index.resolve_all(v) for k, v in stubs.items()}
    stage = Path(stage)
    stage.mkdir(parents=True, exist_ok=True)
    stage.chmod(0o755)
    union = set().union(*own.values()) if own else set()
    base = stage / "base" / PACKAGE
    cache: dict = {}
    _copy_stubbed(source_dir, base, union, None, cache)
    (stage / "base").chmod(0o755)
    (stage / "ex").mkdir(exist_ok=True)
    (stage / "ex").chmod(0o755)
    folders = {}
    for number, (exercise_id, names) in enumerate(own.items()):
        folder = stage / "ex" / str(number)
        folder.mkdir()
        folder.chmod(0o755)
        _copy_stubbed(source_dir, folder / PACKAGE, names, base, cache)
        folders[exercise_id] = str(number)
    return folders


def stubbed_names(exercise: Exercise) -> list[str]:
    """What an exercise's copy stubs: its forbidden names and its own reference."""
    names = list(exercise.forbidden)
    own = reference_name(exercise.reference)
    if own:
        names.append(own)
    return names


class Stage:
    """The stubbed copies of ``course_lib`` for one registry: checked at once, written to
    a temporary folder on first use (thread-safe), removed by :meth:`remove` or at exit.

    Raises:
        UnknownName: an exercise forbids a ``course_lib`` name the package does not define.
    """

    def __init__(self, registry: Mapping[str, Exercise]) -> None:
        self.index = PackageIndex(package_dir())
        self._stubs = {i: stubbed_names(e) for i, e in registry.items()}
        for names in self._stubs.values():
            self.index.resolve_all(names)
        self._forbidden = {i: self._with_aliases(e.forbidden) for i, e in registry.items()}
        self._lock = threading.Lock()
        self._path: Path | None = None
        self._folders: dict[str, str] = {}

    def _with_aliases(self, names: Iterable[str]) -> tuple[str, ...]:
        """``names`` and the other paths to the same objects under the same name (an
        import renamed with ``as`` is left out: its new name may be a common word)."""
        every = []
        for name in names:
            every.append(name)
            if name.startswith(PACKAGE + "."):
                last = name.rsplit(".", 1)[-1]
                same = self.index.aliases(name) - {name}
                every += sorted(a for a in same if a.rsplit(".", 1)[-1] == last)
        return tuple(dict.fromkeys(every))

    def forbidden(self, exercise_id: str) -> tuple[str, ...]:
        """The exercise's forbidden names and every other public path to the same
        ``course_lib`` objects (for the static check of a cell)."""
        return self._forbidden[exercise_id]

    def path(self) -> Path:
        """The stage folder (built on the first call)."""
        with self._lock:
            if self._path is None:
                path = temporary_folder("course-lib-stage-", remove_at_exit=True)
                self._folders = build_stage(path, self._stubs, index=self.index)
                self._path = path
            return self._path

    def folder(self, exercise_id: str) -> str:
        """The exercise's folder under ``ex/`` (builds the stage if needed)."""
        self.path()
        return self._folders[exercise_id]

    def remove(self) -> None:
        """Remove the stage folder (a later :meth:`path` builds it again)."""
        with self._lock:
            if self._path is not None:
                remove_tree(self._path)
                self._path = None


@functools.cache
def default_stage() -> Path:
    """A stage with every ``reference_*`` stubbed and nothing else (for jobs that name
    no exercise of a registry, such as the start-up probe); made once per process."""
    stage = temporary_folder("course-lib-stage-", remove_at_exit=True)
    build_stage(stage, {})
    return stage
