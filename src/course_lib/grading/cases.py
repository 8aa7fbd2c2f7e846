"""The exercises and cases a grade is computed on, with their references (trusted code only).

The cases come in three groups: ``public`` (the exercise's ``cases()``, which the
student's self-check also runs), ``private`` (the instructor's, from
``--private-cases FILE``, never shown to student code except as inputs) and ``fresh``
(drawn by the exercise's ``fresh_cases(seed)`` with a seed chosen at grade time and
recorded in the results). When an exercise has private or fresh cases, its points come
from those only, so hard-coding the public outputs earns nothing; the public cases are
still run and reported.

Everything here runs in the grader's process: references are computed here, and only the
cases' *inputs*, encoded as plain data, ever reach the sandbox.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from course_lib.errors import CourseLibError
from course_lib.exercises import Case, Exercise, all_exercises, call, expected_outputs
from course_lib.grading import plaindata


@dataclass(frozen=True)
class PreparedExercise:
    """An exercise with its case inputs encoded and its references computed (trusted).

    ``case_names``, ``inputs``, ``expected`` and ``groups`` have one entry per case, in
    order: the public cases, then the private ones, then the fresh ones.
    """

    exercise: Exercise
    case_names: tuple[str, ...]
    inputs: tuple[dict[str, Any], ...]
    expected: tuple[Any, ...]
    groups: tuple[str, ...]
    seed: int | None = None

    def weights(self) -> tuple[float, ...]:
        """Each case's share of the points: the unseen (private and fresh) cases share
        them when there are any, else the public cases do."""
        unseen = [g != "public" for g in self.groups]
        counted = unseen if any(unseen) else [True] * len(self.groups)
        share = float(self.exercise.points) / max(sum(counted), 1)
        return tuple(share if c else 0.0 for c in counted)


def load_registry(module_name: str | None = None) -> dict[str, Exercise]:
    """The exercises to grade against: ``course_lib``'s registry, or ``MODULE.EXERCISES``.

    Raises:
        CourseLibError: the module cannot be imported, has no ``EXERCISES`` list of
            :class:`Exercise`, or repeats an id.
    """
    if module_name is None:
        return all_exercises()
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise CourseLibError(f"cannot import exercise registry {module_name!r}: {error}") from None
    exercises = getattr(module, "EXERCISES", None)
    if not isinstance(exercises, (list, tuple)) or not all(
        isinstance(e, Exercise) for e in exercises
    ):
        raise CourseLibError(f"{module_name}.EXERCISES must be a list of Exercise")
    registry: dict[str, Exercise] = {}
    for exercise in exercises:
        if exercise.id in registry:
            raise CourseLibError(f"duplicate exercise id {exercise.id!r} in {module_name}")
        registry[exercise.id] = exercise
    return registry


def exercise_seed(seed: int, exercise_id: str) -> int:
    """The seed an exercise's ``fresh_cases`` gets from the run's seed (stable)."""
    digest = hashlib.sha256(f"{seed}:{exercise_id}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def load_private_cases(path: Path, registry: Mapping[str, Exercise]) -> dict[str, list[Case]]:
    """The instructor's private cases: ``CASES: dict[str, list[Case]]`` in a Python file.

    The file is trusted (the instructor's own) and is run here, in the grader's process;
    it is never shown to the sandbox, only the inputs of its cases are.

    Raises:
        CourseLibError: the file is missing or does not run, ``CASES`` is not such a dict,
            or names an unknown exercise.
    """
    path = Path(path)
    if not path.is_file():
        raise CourseLibError(f"private cases file {path} does not exist")
    namespace: dict[str, Any] = {"__name__": "course_lib_private_cases", "__file__": str(path)}
    try:
        exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)
    except Exception as error:
        raise CourseLibError(f"private cases file {path} raised {error!r}") from None
    cases = namespace.get("CASES")
    if not isinstance(cases, dict) or not all(
        isinstance(k, str) and isinstance(v, (list, tuple)) and all(isinstance(c, Case) for c in v)
        for k, v in cases.items()
    ):
        raise CourseLibError(f"{path}: CASES must be a dict of exercise id -> list of Case")
    unknown = [k for k in cases if k not in registry]
    if unknown:
        raise CourseLibError(f"{path}: unknown exercise id(s) {', '.join(unknown)}")
    return {k: list(v) for k, v in cases.items()}


def _case_groups(
    exercise: Exercise, seed: int | None, private: Sequence[Case]
) -> tuple[list[tuple[str, list[Case]]], int | None]:
    """``[(group, cases)]`` in grading order, and the fresh cases' seed (or ``None``)."""
    try:
        groups: list[tuple[str, list[Case]]] = [("public", list(exercise.cases()))]
    except Exception as error:
        raise CourseLibError(f"exercise {exercise.id}: its cases() raised {error!r}") from None
    if not groups[0][1]:
        raise CourseLibError(f"exercise {exercise.id}: has no cases")
    if private:
        groups.append(("private", list(private)))
    if seed is None or exercise.fresh_cases is None or exercise.kind == "checkpoint":
        return groups, None
    own_seed = exercise_seed(seed, exercise.id)
    try:
        groups.append(("fresh", list(exercise.fresh_cases(own_seed))))
    except Exception as error:
        raise CourseLibError(
            f"exercise {exercise.id}: its fresh_cases({own_seed}) raised {error!r}"
        ) from None
    return groups, own_seed


def prepare(
    exercise: Exercise, seed: int | None = None, private: Sequence[Case] = ()
) -> PreparedExercise:
    """Compute an exercise's references and encode its inputs, here, with trusted code.

    Args:
        exercise: the exercise.
        seed: the run's seed for ``fresh_cases`` (``None``: no fresh cases).
        private: the instructor's private cases for this exercise.

    Raises:
        CourseLibError: naming the exercise and case, if the cases or the reference fail
            or use values that cannot cross the sandbox wall as plain data.
    """
    groups, own_seed = _case_groups(exercise, seed, private)
    names, inputs, expected, kinds = [], [], [], []
    for group, cases in groups:
        for case in cases:
            name = case.name if group == "public" else f"{group}: {case.name}"
            where = f"exercise {exercise.id}, case {name!r}"
            try:
                inputs.append(
                    {
                        "args": plaindata.encode(tuple(case.args), f"{where}: input"),
                        "kwargs": plaindata.encode(dict(case.kwargs), f"{where}: input"),
                    }
                )
                if exercise.kind == "checkpoint":
                    reference = expected_outputs(exercise, [case])[0][1]
                else:
                    reference = call(exercise.reference, case)
                expected.append(plaindata.normalise(reference, f"{where}: reference output"))
            except plaindata.PlainDataError:
                raise
            except Exception as error:
                raise CourseLibError(f"{where}: the reference raised {error!r}") from None
            names.append(name)
            kinds.append(group)
    return PreparedExercise(
        exercise, tuple(names), tuple(inputs), tuple(expected), tuple(kinds), own_seed
    )
