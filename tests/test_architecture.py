"""The shape of ``course_lib``: no import cycles, modules and classes a reader can hold in mind,
imports at the top of modules, and a CONTRIBUTING table that names every module.

Everything is read from the source files' syntax trees (nothing is imported), so a cycle
that only bites at run time, inside a function, is caught too.

The allowlists below are the honest current state: each entry says why it is there. When
an entry is no longer needed the test fails too, so the lists only ever shrink.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT

PACKAGE = "course_lib"
SOURCE = ROOT / "src" / PACKAGE
CONTRIBUTING = ROOT / "CONTRIBUTING.md"

MAX_MODULE_LINES = 400
MAX_CLASS_LINES = 150

# Modules still over MAX_MODULE_LINES when this list was last updated, with the reason.
# Only modules another change is still cutting belong here; the lead trims it.
MODULE_SIZE_ALLOWLIST: dict[str, str] = {}

# Classes still over MAX_CLASS_LINES ("module:Class"), with the reason.
CLASS_SIZE_ALLOWLIST: dict[str, str] = {}

# Imports inside functions, as (module, imported module): only optional dependencies,
# imports whose failure must be reported rather than crash, and the grading sandbox's
# imports whose moment matters, each with its reason.
LOCAL_IMPORT_ALLOWLIST: dict[tuple[str, str], str] = {
    ("course_lib.notebook", "myst_nb"): "optional: comes with the book tooling, not course-lib",
    ("course_lib.onnx_translator", "onnxruntime"): "optional: the [export] extra",
    ("course_lib.commands.doctor", "torch"): "the doctor reports a broken torch, not crash",
    ("course_lib.commands.doctor", "course_lib.translate"): (
        "the doctor reports a broken install (torch, a module) instead of crashing"
    ),
    ("course_lib.grading.harness", "torch"): (
        "sandbox: imported after the memory limit is set, and timed for the report"
    ),
    ("course_lib.grading.harness", "course_lib.grading.plaindata"): (
        "sandbox: imported after torch, once, so that every forked child starts with it"
    ),
    ("course_lib.grading.student_process", "course_lib.exercises.core"): (
        "sandbox: imported from the exercise's own stubbed copy of course_lib, after entering it"
    ),
    ("course_lib.grading.student_process", "course_lib.grading.plaindata"): (
        "sandbox: imported from the exercise's own stubbed copy of course_lib, after entering it"
    ),
}


# --- reading the package ------------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    """One import statement: the module that holds it, what it imports, where."""

    module: str
    target: str  # the imported module (for "from a import b": a.b when that is a module, else a)
    line: int
    local: bool  # inside a function (or a method)


def module_name(path: Path, source: Path = SOURCE) -> str:
    """``.../course_lib/data/grammar.py`` -> ``course_lib.data.grammar``."""
    parts = list(path.relative_to(source.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules(source: Path = SOURCE) -> dict[str, Path]:
    """Every module of the package by dotted name (``__main__`` included)."""
    return {
        module_name(path, source): path
        for path in sorted(source.rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(module: str, tree: ast.Module, known: set[str], is_package: bool) -> list[Import]:
    """The imports of one module, module-level and inside functions (``if TYPE_CHECKING``
    blocks skipped: they never run)."""
    found: list[Import] = []

    def resolve_from(node: ast.ImportFrom) -> list[str]:
        if node.level:
            base = module.split(".")
            if not is_package:
                base = base[:-1]
            base = base[: len(base) - (node.level - 1)]
            origin = ".".join([*base, node.module] if node.module else base)
        else:
            origin = node.module or ""
        targets = []
        for alias in node.names:
            candidate = f"{origin}.{alias.name}"
            targets.append(candidate if candidate in known else origin)
        return targets

    def visit(node: ast.AST, local: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other, local)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    found.append(Import(module, alias.name, child.lineno, local))
            elif isinstance(child, ast.ImportFrom):
                for target in dict.fromkeys(resolve_from(child)):
                    found.append(Import(module, target, child.lineno, local))
            inner = local or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            visit(child, inner)

    visit(tree, False)
    return found


def read_package(source: Path = SOURCE) -> tuple[dict[str, ast.Module], list[Import]]:
    modules = package_modules(source)
    trees = {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in modules.items()}
    known = set(modules)
    imports = [
        found
        for name, tree in trees.items()
        for found in imports_of(name, tree, known, modules[name].name == "__init__.py")
    ]
    return trees, imports


def import_graph(imports: list[Import], known: set[str]) -> dict[str, set[str]]:
    """Module -> the package modules it imports (module-level and in functions)."""
    graph: dict[str, set[str]] = {name: set() for name in known}
    for found in imports:
        if found.target in known and found.target != found.module:
            graph[found.module].add(found.target)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) per strongly connected component that has one
    (Tarjan's algorithm, then a path around the component), in sorted order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)

    cycles = []
    for component in sorted(components):
        members = set(component)
        start = component[0]
        path, seen, node = [start], {start}, start
        while True:  # walk inside the component until a node repeats
            node = sorted(n for n in graph[node] if n in members)[0]
            if node in seen:
                cycles.append(path[path.index(node) :] + [node])
                break
            path.append(node)
            seen.add(node)
    return cycles


@pytest.fixture(scope="module")
def package() -> tuple[dict[str, ast.Module], list[Import]]:
    return read_package()


# --- (a) no import cycles ------------------------------------------------------------------------


def test_the_import_graph_has_no_cycle(package):
    trees, imports = package
    cycles = find_cycles(import_graph(imports, set(trees)))
    assert not cycles, (
        "import cycles in course_lib (module-level and function-level imports):\n"
        + ("\n".join("  " + " -> ".join(cycle) for cycle in cycles))
    )


def test_find_cycles_reports_a_cycle_and_accepts_a_tree():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"a"}}) == [["a", "a"]]


def test_function_level_imports_count_as_edges(tmp_path):
    """The train <-> distributed kind of cycle: one side imports inside a function."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "train.py").write_text("from pkg.distributed import launch\n")
    (package / "distributed.py").write_text("def launch():\n    from pkg import train\n")
    trees, imports = read_package(package)
    assert trees.keys() == {"pkg", "pkg.train", "pkg.distributed"}
    assert [i.local for i in imports if i.module == "pkg.distributed"] == [True]
    assert find_cycles(import_graph(imports, set(trees))) == [
        ["pkg.distributed", "pkg.train", "pkg.distributed"]
    ]


def test_relative_and_type_checking_imports(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from .a import x\n")
    (package / "sub" / "a.py").write_text(
        "from typing import TYPE_CHECKING\nfrom . import b\nif TYPE_CHECKING:\n    import pkg\nx = 1\n"
    )
    (package / "sub" / "b.py").write_text("from ..sub import a\n")
    trees, imports = read_package(package)
    graph = import_graph(imports, set(trees))
    assert graph["pkg.sub"] == {"pkg.sub.a"}
    assert graph["pkg.sub.a"] == {"pkg.sub.b"}, "TYPE_CHECKING imports never run"
    assert find_cycles(graph) == [["pkg.sub.a", "pkg.sub.b", "pkg.sub.a"]]


# --- (b) sizes ------------------------------------------------------------------------------------


def test_no_module_over_400_lines(package):
    trees, _ = package
    paths = package_modules()
    too_long = {
        name: len(paths[name].read_text(encoding="utf-8").splitlines())
        for name in trees
        if len(paths[name].read_text(encoding="utf-8").splitlines()) > MAX_MODULE_LINES
    }
    unexpected = {name: n for name, n in too_long.items() if name not in MODULE_SIZE_ALLOWLIST}
    assert not unexpected, f"modules over {MAX_MODULE_LINES} lines: " + ", ".join(
        f"{name} ({n})" for name, n in sorted(unexpected.items())
    )
    stale = sorted(set(MODULE_SIZE_ALLOWLIST) - set(too_long))
    assert not stale, f"no longer over {MAX_MODULE_LINES} lines, remove from the allowlist: {stale}"


def class_sizes(trees: dict[str, ast.Module]) -> dict[str, int]:
    """``module:Class`` -> lines (decorators included) of every class, nested ones too."""
    sizes = {}
    for name, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                sizes[f"{name}:{node.name}"] = node.end_lineno - first + 1
    return sizes


def test_no_class_over_150_lines(package):
    trees, _ = package
    too_long = {k: n for k, n in class_sizes(trees).items() if n > MAX_CLASS_LINES}
    unexpected = {k: n for k, n in too_long.items() if k not in CLASS_SIZE_ALLOWLIST}
    assert not unexpected, f"classes over {MAX_CLASS_LINES} lines: " + ", ".join(
        f"{k} ({n})" for k, n in sorted(unexpected.items())
    )
    stale = sorted(set(CLASS_SIZE_ALLOWLIST) - set(too_long))
    assert not stale, f"no longer over {MAX_CLASS_LINES} lines, remove from the allowlist: {stale}"


# --- (c) imports at the top of modules ------------------------------------------------------------


def test_function_level_imports_only_for_optional_dependencies(package):
    _, imports = package
    local = {(i.module, i.target): i for i in imports if i.local}
    unexpected = sorted(
        f"{i.module}:{i.line} imports {i.target}"
        for key, i in local.items()
        if key not in LOCAL_IMPORT_ALLOWLIST
    )
    assert not unexpected, (
        "imports inside functions (move them to the top of the module; only an optional "
        "dependency may be imported late, with a comment and an entry in "
        "LOCAL_IMPORT_ALLOWLIST):\n  " + "\n  ".join(unexpected)
    )
    stale = sorted(set(LOCAL_IMPORT_ALLOWLIST) - set(local))
    assert not stale, f"no longer imported inside a function, remove from the allowlist: {stale}"


# --- (d) the CONTRIBUTING table names every module -------------------------------------------------


def layout_table(text: str) -> list[list[str]]:
    """The rows (cells) of the table under ``## Package layout`` in CONTRIBUTING.md."""
    section = re.search(r"^## Package layout.*?$(.*?)^## ", text, re.M | re.S)
    assert section, "CONTRIBUTING.md has no '## Package layout' section"
    rows = []
    for line in section.group(1).splitlines():
        if line.startswith("|") and not re.fullmatch(r"\|[-|: ]+\|", line.strip()):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows[1:]  # without the header


def named_paths(rows: list[list[str]]) -> set[str]:
    """The file and folder names in backticks of the table's module column (the second)."""
    return {
        name
        for row in rows
        if len(row) > 1
        for name in re.findall(r"`([\w./]+)`", row[1])
        if name.endswith((".py", "/"))
    }


def module_files(source: Path = SOURCE) -> set[str]:
    """``attention.py``, ``data/grammar.py``, ... (no ``__init__``/``__main__``)."""
    return {
        path.relative_to(source).as_posix()
        for path in source.rglob("*.py")
        if "__pycache__" not in path.parts and path.name not in ("__init__.py", "__main__.py")
    }


def unnamed_modules(files: set[str], named: set[str]) -> list[str]:
    """Modules the table does not name, by file or by a folder above them."""
    return sorted(
        file
        for file in files
        if file not in named
        and not any(file.startswith(folder) for folder in named if folder.endswith("/"))
    )


def test_contributing_table_names_every_module():
    rows = layout_table(CONTRIBUTING.read_text(encoding="utf-8"))
    named = named_paths(rows)
    files = module_files()
    missing = unnamed_modules(files, named)
    assert not missing, f"CONTRIBUTING.md's package layout table does not name: {missing}"
    folders = {file.rsplit("/", 1)[0] + "/" for file in files if "/" in file}
    gone = sorted(
        name
        for name in named
        if (name.endswith(".py") and name not in files)
        or (name.endswith("/") and name not in folders and not (SOURCE / name).is_dir())
    )
    assert not gone, f"CONTRIBUTING.md's package layout table names what does not exist: {gone}"


def test_table_parsing():
    text = (
        "## Package layout\n\n| step | module | what |\n|---|---|---|\n"
        "| 1 | `data/` | corpus |\n| 2 | `tokenize/words.py`, `embedding.py` | x |\n\n## Next\n"
    )
    named = named_paths(layout_table(text))
    assert named == {"data/", "tokenize/words.py", "embedding.py"}
    files = {"data/grammar.py", "tokenize/words.py", "tokenize/bpe.py", "embedding.py", "cli.py"}
    assert unnamed_modules(files, named) == ["cli.py", "tokenize/bpe.py"]
