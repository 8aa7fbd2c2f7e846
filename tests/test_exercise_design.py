"""The exercise design of every chapter (issue 16): what kinds of exercise each chapter has,
that no exercise is a copy of a cell the chapter shows, and that every registered exercise
is complete (fresh cases, forbidden library functions, explanation, time estimate).

Run with ``-s`` to see the per-chapter counts and, for every implementation exercise, the
line saying it is not a copy of any chapter cell.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from collections import Counter

import nbformat
import pytest
from conftest import CHAPTERS_DIR
from exercise_helpers import run_solution_alone, solution_cells

from course_lib.exercises import (
    KINDS,
    ExerciseFailed,
    all_exercises,
    check,
    compare,
    expected_outputs,
    run_submission,
)

REGISTRY = all_exercises()
CHAPTERS = {int(path.name[:2]): path for path in sorted(CHAPTERS_DIR.glob("[0-9][0-9]_*.ipynb"))}
SOLUTION = re.compile(r"### BEGIN SOLUTION.*?### END SOLUTION", re.S)
MIN_LINE = 25  # shorter body lines ("return x", "import torch") prove nothing
FRESH_SEEDS = range(5)


def params(exercises) -> list:
    return [pytest.param(e, id=e.id) for e in exercises]


ALL = list(REGISTRY.values())
FUNCTIONS = [e for e in ALL if e.kind != "checkpoint"]
CHECKPOINTS = [e for e in ALL if e.kind == "checkpoint"]


def by_chapter() -> dict[int, list]:
    chapters: dict[int, list] = {n: [] for n in CHAPTERS}
    for exercise in REGISTRY.values():
        chapters.setdefault(exercise.chapter, []).append(exercise)
    return chapters


# --- per chapter: kinds and counts -------------------------------------------------------------


@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_each_chapter_has_a_checkpoint_an_implementation_and_three_exercises(chapter):
    exercises = by_chapter()[chapter]
    kinds = Counter(e.kind for e in exercises)
    minutes = sum(e.minutes for e in exercises)
    print(
        f"chapter {chapter}: {len(exercises)} exercises - {kinds['checkpoint']} checkpoint, "
        f"{kinds['implementation']} implementation, {kinds['practice']} practice; "
        f"{sum(e.points for e in exercises):g} points, about {minutes} minutes"
    )
    assert len(exercises) >= 3
    assert len(exercises) <= 5, "keep the exercises of a chapter to a sensible number"
    assert kinds["checkpoint"] >= 1
    assert kinds["implementation"] >= 1
    assert minutes <= 75, "keep the total time of a chapter's exercises sensible"


def test_registry_fields_are_complete():
    for exercise in ALL:
        where = exercise.id
        assert exercise.kind in KINDS, where
        assert exercise.explanation.strip(), f"{where}: no explanation"
        assert exercise.hint.strip(), f"{where}: no hint"
        assert 1 <= exercise.minutes <= 40, where
        assert exercise.points > 0, where
        if exercise.kind == "checkpoint":
            assert exercise.function.isupper() and exercise.function.startswith("ANSWER_"), where
            assert [c.name for c in exercise.cases()] == ["answer"], where
            assert exercise.fresh_cases is None, where
        else:
            assert exercise.fresh_cases is not None, f"{where}: no fresh_cases generator"
            assert exercise.function.isidentifier() and not exercise.function.isupper(), where


def test_hints_point_at_the_idea_not_the_code():
    """No hint spells out code or a formula: no assignment, no torch call, no operators."""
    for exercise in ALL:
        for pattern in ("=", "torch.", "**", " @ ", "lambda", "[:,", "dim="):
            assert pattern not in exercise.hint, f"{exercise.id}: hint contains {pattern!r}"


# --- references and their cases ----------------------------------------------------------------


@pytest.mark.parametrize("exercise", params(FUNCTIONS))
def test_reference_passes_its_public_and_fresh_cases(exercise, capsys):
    check(exercise, exercise.reference)
    assert f"✓ {exercise.id}" in capsys.readouterr().out
    for seed in FRESH_SEEDS:
        cases = exercise.fresh_cases(seed)
        assert cases, f"{exercise.id}: seed {seed} gave no case"
        first, second = expected_outputs(exercise, cases), expected_outputs(exercise, cases)
        for (case, a), (_, b) in zip(first, second):
            assert compare(a, b) is None, f"{exercise.id} {case.name}: not deterministic"
        again = expected_outputs(exercise, exercise.fresh_cases(seed))
        for (case, a), (_, b) in zip(first, again):
            assert compare(a, b) is None, f"{exercise.id} {case.name}: the seed does not fix it"
    names = {c.name for seed in FRESH_SEEDS for c in exercise.fresh_cases(seed)}
    assert len(names) > 1, f"{exercise.id}: fresh cases do not change with the seed"


@pytest.mark.parametrize("exercise", params(FUNCTIONS))
def test_master_solution_passes_the_fresh_cases(exercise):
    """The chapter's solution (run alone, as the grader runs it) agrees with the reference on
    fresh inputs too: the fresh cases ask nothing the exercise text does not."""
    namespace: dict = {}
    source = solution_cells(CHAPTERS[exercise.chapter])[exercise.id]
    exec(compile(source, exercise.id, "exec"), namespace)  # noqa: S102 - our own notebook
    function = namespace[exercise.function]
    for seed in FRESH_SEEDS:
        for case, expected in expected_outputs(exercise, exercise.fresh_cases(seed)):
            received = run_submission(exercise, function, case)
            problem = compare(expected, received, exercise.atol, exercise.rtol)
            assert problem is None, f"{exercise.id}, {case.name}: {problem}"


@pytest.mark.parametrize("exercise", params(ALL))
def test_master_solution_passes_its_check(exercise, capsys):
    run_solution_alone(exercise, CHAPTERS[exercise.chapter])
    out = capsys.readouterr().out
    assert f"✓ {exercise.id}" in out and exercise.explanation.splitlines()[0] in out


def _student_source(source: str, exercise) -> str:
    """The cell as a student receives it: functions raise NotImplementedError, a checkpoint's
    answer is None."""
    if exercise.kind == "checkpoint":
        return SOLUTION.sub(f"{exercise.function} = None  # YOUR ANSWER HERE", source)
    return SOLUTION.sub("raise NotImplementedError()", source)


@pytest.mark.parametrize("exercise", params(ALL))
def test_student_version_asks_for_an_answer(exercise):
    source = solution_cells(CHAPTERS[exercise.chapter])[exercise.id]
    namespace: dict = {}
    exec(compile(_student_source(source, exercise), exercise.id, "exec"), namespace)  # noqa: S102
    message = "no answer yet" if exercise.kind == "checkpoint" else "not implemented yet"
    with pytest.raises(ExerciseFailed, match=message):
        check(exercise, namespace[exercise.function])


@pytest.mark.parametrize("exercise", params(CHECKPOINTS))
def test_checkpoint_wrong_answer_shows_the_hint_not_the_answer(exercise, capsys):
    answer = exercise.reference()
    wrong = "z" if isinstance(answer, str) else [999] if isinstance(answer, (list, tuple)) else -1
    with pytest.raises(ExerciseFailed) as info:
        check(exercise, wrong)
    message = str(info.value)
    assert exercise.hint in message and "think again" in message
    assert exercise.explanation not in message
    check(exercise, answer)
    assert exercise.explanation in capsys.readouterr().out


# --- not a copy of the chapter ----------------------------------------------------------------


def _body_lines(function) -> list[str]:
    """The function's body, without its signature and docstring, one stripped line each,
    keeping the lines long enough to mean something."""
    source = textwrap.dedent(inspect.getsource(function))
    tree = ast.parse(source).body[0]
    body = tree.body
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(getattr(body[0], "value", None), ast.Constant)
    ):
        body = body[1:]
    lines = source.splitlines()[body[0].lineno - 1 : body[-1].end_lineno] if body else []
    return [line.strip() for line in lines if len(line.strip()) >= MIN_LINE]


def _solution_body_lines(source: str) -> list[str]:
    lines = []
    for region in SOLUTION.findall(source):
        for line in region.splitlines()[1:-1]:
            stripped = (
                line.split("#")[0].strip() if "#" in line and "'" not in line else line.strip()
            )
            if len(stripped) >= MIN_LINE:
                lines.append(stripped)
    return lines


def _chapter_text_outside_solutions() -> dict[str, str]:
    """Every cell of every chapter, solution regions removed: ``{"NN, cell i": source}``."""
    cells = {}
    for number, path in CHAPTERS.items():
        for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
            cells[f"chapter {number}, cell {index}"] = SOLUTION.sub("", cell.source)
    return cells


def test_no_reference_body_appears_in_a_chapter_outside_the_solutions(capsys):
    cells = _chapter_text_outside_solutions()
    copies = []
    for exercise in ALL:
        lines = _body_lines(exercise.reference)
        for where, text in cells.items():
            for line in lines:
                if line in text:
                    copies.append(f"{exercise.id}: {line!r} is in {where}")
    assert not copies, "\n".join(copies)


@pytest.mark.parametrize("exercise", params(e for e in ALL if e.kind == "implementation"))
def test_implementation_is_not_a_copy_of_any_chapter_cell(exercise):
    """No line of the reference's body appears in a cell of its chapter outside the solution
    regions, and no such cell holds half or more of the master solution's lines (one common
    line such as ``weights = scores.softmax(dim=-1)`` is not a copy; a cell holding most of
    the solution is)."""
    solution = _solution_body_lines(solution_cells(CHAPTERS[exercise.chapter])[exercise.id])
    reference = _body_lines(exercise.reference)
    found = []
    for where, text in _chapter_text_outside_solutions().items():
        if not where.startswith(f"chapter {exercise.chapter},"):
            continue
        found += [f"reference line {line!r} in {where}" for line in reference if line in text]
        shared = [line for line in solution if line in text]
        if solution and len(shared) >= max(2, len(solution) / 2):
            found.append(f"{len(shared)} of {len(solution)} solution lines in {where}")
    assert not found, f"{exercise.id} copies the chapter: " + "; ".join(found)
    print(
        f"{exercise.id} ({exercise.kind}): not a copy of any chapter cell "
        f"({len(reference)} reference and {len(solution)} solution lines checked)"
    )


# --- the library function an exercise delegates to is forbidden -------------------------------


def _library_names_used(function) -> set[str]:
    """Dotted names of ``course_lib`` objects (outside ``course_lib.exercises``) the function
    refers to by a global name."""
    names = set()
    module_globals = function.__globals__
    for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(function)))):
        if isinstance(node, ast.Name) and node.id in module_globals:
            obj = module_globals[node.id]
            module = getattr(obj, "__module__", "") or ""
            if module.startswith("course_lib.") and not module.startswith("course_lib.exercises"):
                names.add(f"{module}.{getattr(obj, '__qualname__', node.id)}")
    return names


@pytest.mark.parametrize("exercise", params(FUNCTIONS))
def test_the_library_function_a_reference_uses_is_forbidden(exercise):
    used = _library_names_used(exercise.reference)
    missing = {
        name
        for name in used
        if not any(name == f or name.startswith(f + ".") for f in exercise.forbidden)
    }
    assert not missing, f"{exercise.id}: its reference uses {sorted(missing)}, not in forbidden"
