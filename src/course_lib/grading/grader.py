"""Grading a folder of submissions: references here, student code in sandboxes.

The flow for one submission:

1. read its notebook(s) as JSON, here, without running anything, and pick out the
   exercise cells (:mod:`course_lib.grading.notebooks`); a cell that uses a forbidden
   name is refused without running (:mod:`course_lib.grading.policy`);
2. send those cells and the case *inputs* (plain data, :mod:`course_lib.grading.cases`)
   to a sandboxed harness (:mod:`course_lib.grading.sandbox`), which runs each cell in a
   fresh process and namespace and returns the function's outputs as plain data;
3. compare each output with the reference this process computed itself
   (:mod:`course_lib.grading.scoring`). A case earns its share of the exercise's points
   only when they match.

Student code imports ``course_lib`` from a stubbed copy (:mod:`course_lib.grading.stubs`)
in which the references and the exercise's forbidden functions raise; an exercise whose
code reaches one while it runs gets the outcome ``forbidden`` and no points.

Student code never runs in this process, nothing it prints is read as a verdict, and a
value it sends earns points only if it is the right answer to the grader's input. The
statuses a submission can get are listed in :mod:`course_lib.grading.results`.
"""

from __future__ import annotations

import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

from course_lib.errors import CourseLibError
from course_lib.exercises import Case, Exercise
from course_lib.grading.cases import PreparedExercise, prepare
from course_lib.grading.notebooks import (
    ExerciseCell,
    NotANotebook,
    find_exercise_cells,
    read_notebook,
)
from course_lib.grading.policy import forbidden_uses
from course_lib.grading.results import ExerciseResult, StudentResult, submission_status
from course_lib.grading.sandbox import Sandbox
from course_lib.grading.scoring import score_run
from course_lib.grading.stubs import Stage
from course_lib.grading.submissions import Submission

Notebooks = list[tuple[str, Any]]  # (file name, parsed notebook)


@dataclass
class Grader:
    """Grades submissions against ``registry`` in ``sandbox``.

    Args:
        registry: exercise id -> :class:`Exercise` (e.g.
            :func:`~course_lib.grading.cases.load_registry`).
        sandbox: a started :class:`~course_lib.grading.sandbox.Sandbox`.
        expected: the exercise ids every submission must have; ``None`` means "every
            registered exercise of each chapter that the submission has a cell for".
        seed: the seed of the fresh cases (drawn when ``None`` and ``fresh``).
        private_cases: exercise id -> the instructor's private cases.
        fresh: grade on fresh cases too.
    """

    registry: Mapping[str, Exercise]
    sandbox: Sandbox
    expected: Sequence[str] | None = None
    seed: int | None = None
    private_cases: Mapping[str, Sequence[Case]] = field(default_factory=dict)
    fresh: bool = True
    _prepared: dict[str, PreparedExercise] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _stage: Stage = field(init=False)

    def __post_init__(self) -> None:
        if not self.fresh:
            self.seed = None
        elif self.seed is None:
            self.seed = secrets.randbelow(2**31)
        unknown_private = [i for i in self.private_cases if i not in self.registry]
        if unknown_private:
            raise CourseLibError(f"private cases for unknown exercise(s) {unknown_private}")
        self._stage = Stage(self.registry)
        if self.expected is not None:
            unknown = [i for i in self.expected if i not in self.registry]
            if unknown:
                raise CourseLibError(
                    f"unknown exercise id(s) {', '.join(unknown)}; known: "
                    f"{', '.join(self.registry) or 'none'}"
                )
            self.prepare_all(self.expected)

    def prepare_all(self, ids: Iterable[str]) -> None:
        """Compute references for these exercises (once; errors name the exercise)."""
        with self._lock:
            for exercise_id in ids:
                if exercise_id not in self._prepared:
                    self._prepared[exercise_id] = prepare(
                        self.registry[exercise_id],
                        self.seed,
                        self.private_cases.get(exercise_id, ()),
                    )

    def close(self) -> None:
        """Remove the stubbed copies (also done at exit)."""
        self._stage.remove()

    def grade(self, submission: Submission) -> StudentResult:
        """Grade one submission; never raises for anything the submission contains."""
        started = time.monotonic()
        result = StudentResult(
            submission.student, [p.name for p in submission.paths], "ok", self.sandbox.isolation
        )
        notebooks, problems = _read_notebooks(submission)
        if not notebooks:
            self._not_a_notebook(result, problems)
        else:
            result.notes += problems
            self._grade_notebooks(result, notebooks)
            result.status = submission_status(result)
        result.seconds = round(time.monotonic() - started, 3)
        return result

    def _grade_notebooks(self, result: StudentResult, notebooks: Notebooks) -> None:
        found, expected = self._locate_cells(notebooks)
        self.prepare_all(expected)
        jobs = []
        for exercise_id in expected:
            exercise = self.registry[exercise_id]
            entry = ExerciseResult(exercise_id, exercise.title, float(exercise.points))
            result.exercises[exercise_id] = entry
            cell = found.get(exercise_id)
            if cell is None:
                entry.message = f"no cell for exercise {exercise_id} (function {exercise.function})"
                continue
            entry.cell = f"{cell.notebook}, cell {cell.index + 1} (found by {cell.found_by})"
            used = forbidden_uses(cell.source, self._stage.forbidden(exercise_id))
            if used:
                entry.outcome = "forbidden"
                entry.message = (
                    f"the cell uses {', '.join(used)}, which this exercise asks you to "
                    f"write yourself"
                )
                continue
            jobs.append(self._job_entry(exercise_id, cell))
        if not expected:
            result.notes.append("no exercise cell found in the submission")
        if jobs:
            run = self.sandbox.run({"exercises": jobs}, self._stage.path())
            sent = {job["id"]: self._prepared[job["id"]] for job in jobs}
            score_run(result, run, sent, self.sandbox.limits.timeout)

    def _locate_cells(self, notebooks: Notebooks) -> tuple[dict[str, ExerciseCell], list[str]]:
        """The exercise cells found (by metadata first, then by the function they define)
        and the exercise ids this submission is expected to have."""
        functions = {i: e.function for i, e in self.registry.items()}
        found: dict[str, ExerciseCell] = {}
        for name, notebook in notebooks:  # metadata first, in every notebook
            for i, cell in find_exercise_cells(notebook, functions, name, False).items():
                found.setdefault(i, cell)
        if self.expected is None and not found:  # all metadata lost: infer from functions
            expected = self._expected_for(_find_by_name(notebooks, functions, found))
        else:
            expected = self._expected_for(found)
        missing = {i: functions[i] for i in expected if i not in found}
        found.update(_find_by_name(notebooks, missing, found))
        return found, expected

    def _expected_for(self, found: Mapping[str, ExerciseCell]) -> list[str]:
        if self.expected is not None:
            return list(self.expected)
        chapters = {self.registry[i].chapter for i in found}
        return [i for i, e in self.registry.items() if e.chapter in chapters]

    def _job_entry(self, exercise_id: str, cell: ExerciseCell) -> dict[str, Any]:
        """What the sandbox is sent for one exercise (no reference, only inputs)."""
        exercise = self.registry[exercise_id]
        return {
            "id": exercise_id,
            "function": exercise.function,
            "kind": exercise.kind,
            "source": cell.source,
            "cases": list(self._prepared[exercise_id].inputs),
            "patch": [n for n in exercise.forbidden if not n.startswith("course_lib.")],
            "stub_folder": self._stage.folder(exercise_id),
        }

    def _not_a_notebook(self, result: StudentResult, problems: list[str]) -> None:
        result.status = "not-a-notebook"
        result.notes += problems
        for exercise_id in self.expected or ():
            exercise = self.registry[exercise_id]
            result.exercises[exercise_id] = ExerciseResult(
                exercise_id,
                exercise.title,
                float(exercise.points),
                outcome="not-run",
                message="the submission is not a readable notebook",
            )


def _read_notebooks(submission: Submission) -> tuple[Notebooks, list[str]]:
    """The submission's readable notebooks, and what is wrong with the rest."""
    if submission.problem:
        return [], [submission.problem]
    notebooks, problems = [], []
    for path in submission.paths:
        try:
            notebooks.append((path.name, read_notebook(path)))
        except NotANotebook as error:
            problems.append(str(error))
    return notebooks, problems


def _find_by_name(
    notebooks: Notebooks, functions: Mapping[str, str], found: Mapping[str, ExerciseCell]
) -> dict[str, ExerciseCell]:
    """Cells that lost their metadata, matched by the function they define."""
    more: dict[str, ExerciseCell] = {}
    for name, notebook in notebooks:
        for i, cell in find_exercise_cells(notebook, functions, name).items():
            if i not in found:
                more.setdefault(i, cell)
    return more


def grade_all(
    grader: Grader,
    submissions: Sequence[Submission],
    jobs: int = 1,
    progress: bool = True,
    on_result: Callable[[StudentResult], None] | None = None,
) -> list[StudentResult]:
    """Grade every submission, ``jobs`` at a time, with a progress bar; sorted by student.

    Raises:
        CourseLibError: ``jobs`` < 1, or the exercise registry or the set-up fails (the
            rest of the batch is cancelled). A grader bug on one submission is recorded
            as that submission's crash instead.
    """
    if jobs < 1:
        raise CourseLibError(f"jobs must be at least 1, got {jobs}")
    results = []
    with (
        ThreadPoolExecutor(max_workers=jobs) as pool,
        tqdm(
            total=len(submissions),
            desc="grading",
            unit="submission",
            disable=not progress,
            file=sys.stderr,
        ) as bar,
    ):
        futures = {pool.submit(grader.grade, s): s for s in submissions}
        for future in as_completed(futures):
            try:
                student_result = future.result()
            except CourseLibError:  # the exercise registry or the set-up: stop, say why
                for other in futures:
                    other.cancel()
                raise
            except Exception as error:  # a grader bug must not cost the rest of the batch
                submission = futures[future]
                student_result = StudentResult(
                    submission.student,
                    [p.name for p in submission.paths],
                    "crashed",
                    grader.sandbox.isolation,
                    notes=[f"the grader failed on this submission: {error!r}; please report it"],
                )
            results.append(student_result)
            if on_result:
                on_result(student_result)
            bar.set_postfix_str(f"{student_result.student}: {student_result.status}")
            bar.update()
    return sorted(results, key=lambda r: r.student)
