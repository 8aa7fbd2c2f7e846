"""Static check of a student's cell for names an exercise forbids.

The sandbox can import ``course_lib``, so a student could answer "write scaled dot-product
attention" with ``from course_lib.attention import scaled_dot_product_attention``. Using
the library is fine for most exercises (later chapters build on earlier ones); where it
is not, the exercise lists ``forbidden`` names and the grader looks for them in the
cell's syntax tree, in the grader's process, without running anything:

* imports and attribute chains, with aliases resolved (``import torch.nn.functional as F``
  then ``F.scaled_dot_product_attention`` is ``torch.nn.functional.scaled_dot_product_attention``);
* any attribute access, or string constant that is a (dotted) name, spelling the last part
  of a forbidden name, which catches ``getattr(module, "scaled_dot_product_attention")``
  (docstrings and prose strings such as error messages are not looked at).

It is a deterrent: code built from pieces of strings at run time escapes it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable


def _docstring_nodes(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _parts(text: str) -> list[str]:
    """The dotted parts of a string that looks like a name (``"torch.softmax"`` ->
    ``["torch", "softmax"]``); ``[]`` for prose such as an error message."""
    return text.split(".") if re.fullmatch(r"[A-Za-z_][\w.]*", text) else []


def forbidden_uses(source: str, forbidden: Iterable[str]) -> list[str]:
    """What ``source`` uses of ``forbidden``: the dotted names it imports or reaches
    through attributes, then the bare last parts it spells out in other ways (an
    attribute of something unknown, a string). ``[]`` if nothing, or if the source does not
    parse (the sandbox reports the syntax error).

    Args:
        source: the student's cell.
        forbidden: dotted names such as ``"course_lib.attention.scaled_dot_product_attention"``.
    """
    forbidden = [name for name in forbidden if name]
    if not forbidden:
        return []
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    aliases: dict[str, str] = {}
    dotted: set[str] = set()
    star_modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
                else:
                    aliases[alias.name.split(".")[0]] = alias.name.split(".")[0]
                dotted.add(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if alias.name == "*":
                    star_modules.add(node.module)
                    continue
                full = f"{node.module}.{alias.name}"
                aliases[alias.asname or alias.name] = full
                dotted.add(full)

    def resolve(node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            return aliases.get(node.id)
        if isinstance(node, ast.Attribute):
            base = resolve(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    attributes: set[str] = set()
    strings: list[str] = []
    docstrings = _docstring_nodes(tree)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Name, ast.Attribute)):
            name = resolve(node)
            if name:
                dotted.add(name)
            if isinstance(node, ast.Attribute):
                attributes.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in docstrings:
                strings.append(node.value)

    exact = {
        name
        for name in forbidden
        if any(d == name or d.startswith(name + ".") for d in dotted)
        or ("." in name and name.rsplit(".", 1)[0] in star_modules)
    }
    covered = {name.rsplit(".", 1)[-1] for name in exact}
    spelled = {
        last
        for name in forbidden
        if (last := name.rsplit(".", 1)[-1]) not in covered
        and (last in attributes or any(last in _parts(text) for text in strings))
    }
    return sorted(exact) + sorted(spelled)
