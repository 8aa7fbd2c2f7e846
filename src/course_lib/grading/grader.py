"""Grading a folder of submissions: references here, student code in sandboxes.

The flow for one submission:

1. read its notebook(s) as JSON, here, without running anything, and pick out the
   exercise cells (:mod:`course_lib.grading.notebooks`);
2. send those cells and the case *inputs* (plain data) to a sandboxed harness
   (:mod:`course_lib.grading.sandbox`), which runs each cell in a fresh process and
   namespace and returns the function's outputs as plain data;
3. compare each output with the reference this process computed itself, with
   :func:`course_lib.exercises.compare`. A case earns its share of the exercise's points
   only when they match.

The cases come in three groups: ``public`` (the exercise's ``cases()``, which the
student's self-check also runs), ``private`` (the instructor's, from
``--private-cases FILE``, never shown to student code except as inputs) and ``fresh``
(drawn by the exercise's ``fresh_cases(seed)`` with a seed chosen at grade time and
recorded in the results). When an exercise has private or fresh cases, its points come
from those only, so hard-coding the public outputs earns nothing; the public cases are
still run and reported.

Student code imports ``course_lib`` from a stubbed copy (:mod:`course_lib.grading.stubs`)
in which the references and the exercise's forbidden functions raise; an exercise whose
code reaches one while it runs gets the outcome ``forbidden`` and no points.

Student code never runs in this process, nothing it prints is read as a verdict, and a
value it sends earns points only if it is the right answer to the grader's input.

Statuses, most severe first (a submission gets the first that applies):

``not-a-notebook``
    the file is not a readable ``.ipynb`` (corrupt JSON, another kind of file, a link).
``timeout``
    the submission hit its wall-clock limit, or one exercise hit the per-exercise limit.
``memory``
    an exercise ran out of memory (the address-space limit).
``crashed``
    an exercise's process ended abnormally: ``sys.exit()``/``os._exit()``, a signal, or
    the sandbox ended before every exercise ran.
``missing-exercise``
    an expected exercise has no cell in the submission (the others are still graded).
``ok``
    everything ran; wrong answers and exceptions only cost points.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib
import math
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from course_lib.errors import CourseLibError
from course_lib.exercises import Case, Exercise, all_exercises, call, compare, expected_outputs
from course_lib.grading import plaindata
from course_lib.grading.notebooks import (
    ExerciseCell,
    NotANotebook,
    find_exercise_cells,
    read_notebook,
)
from course_lib.grading.policy import forbidden_uses
from course_lib.grading.sandbox import BUBBLEWRAP, Sandbox, SandboxRun, remove_tree
from course_lib.grading.stubs import build_stage, reference_name

STATUSES = ("not-a-notebook", "timeout", "memory", "crashed", "missing-exercise", "ok")
_OUTCOME_STATUS = {
    "timeout": "timeout",
    "memory": "memory",
    "crashed": "crashed",
    "exited": "crashed",
}
_IGNORED_NAMES = ("__MACOSX", ".ipynb_checkpoints")


@dataclass(frozen=True)
class PreparedExercise:
    """An exercise with its case inputs encoded and its references computed (trusted)."""

    exercise: Exercise
    case_names: tuple[str, ...]
    inputs: tuple[dict[str, Any], ...]
    expected: tuple[Any, ...]
    groups: tuple[str, ...] = ()
    seed: int | None = None

    def weights(self) -> tuple[float, ...]:
        """Each case's share of the points: the unseen (private and fresh) cases share
        them when there are any, else the public cases do."""
        groups = self.groups or ("public",) * len(self.case_names)
        unseen = [g != "public" for g in groups]
        counted = unseen if any(unseen) else [True] * len(groups)
        share = float(self.exercise.points) / max(sum(counted), 1)
        return tuple(share if c else 0.0 for c in counted)


@dataclass
class CaseResult:
    name: str
    passed: bool
    message: str = ""
    group: str = "public"
    points: float = 0.0
    max_points: float = 0.0


@dataclass
class ExerciseResult:
    """One exercise of one submission. ``outcome`` is ``graded``, ``missing``,
    ``forbidden``, ``cell-error``, ``timeout``, ``memory``, ``crashed`` or ``not-run``."""

    id: str
    title: str
    max_points: float
    points: float = 0.0
    outcome: str = "missing"
    message: str = ""
    cases: list[CaseResult] = field(default_factory=list)
    cell: str = ""


@dataclass
class StudentResult:
    """Everything the gradebook says about one student."""

    student: str
    files: list[str]
    status: str
    isolation: str
    exercises: dict[str, ExerciseResult] = field(default_factory=dict)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    reference_isolation: str = ""

    @property
    def total(self) -> float:
        return sum(result.points for result in self.exercises.values())

    @property
    def max_total(self) -> float:
        return sum(result.max_points for result in self.exercises.values())


@dataclass(frozen=True)
class Submission:
    """One student's file, or folder of notebooks."""

    student: str
    paths: tuple[Path, ...]
    problem: str | None = None


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
    try:
        groups: list[tuple[str, list[Case]]] = [("public", list(exercise.cases()))]
    except Exception as error:
        raise CourseLibError(f"exercise {exercise.id}: its cases() raised {error!r}") from None
    if not groups[0][1]:
        raise CourseLibError(f"exercise {exercise.id}: has no cases")
    if private:
        groups.append(("private", list(private)))
    own_seed = None
    if seed is not None and exercise.fresh_cases is not None and exercise.kind != "checkpoint":
        own_seed = exercise_seed(seed, exercise.id)
        try:
            groups.append(("fresh", list(exercise.fresh_cases(own_seed))))
        except Exception as error:
            raise CourseLibError(
                f"exercise {exercise.id}: its fresh_cases({own_seed}) raised {error!r}"
            ) from None
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


def discover(submissions_dir: Path) -> list[Submission]:
    """The submissions in a folder, by student.

    * ``<student>.ipynb``: one notebook per student (a flat folder, as most LMS export);
    * ``<student>/``: a folder of notebooks (``*.ipynb``, searched recursively), for
      example one per chapter;
    * any other file ``<student>.<ext>`` is a submission that is not a notebook.

    Hidden entries and ``__MACOSX``/``.ipynb_checkpoints`` folders are skipped. When two
    entries share a stem (``ana.ipynb`` and ``ana.zip``), the full names are used.
    """
    submissions_dir = Path(submissions_dir)
    if not submissions_dir.is_dir():
        raise CourseLibError(f"submissions folder {submissions_dir} does not exist")
    entries = [
        p
        for p in sorted(submissions_dir.iterdir())
        if not p.name.startswith(".") and p.name not in _IGNORED_NAMES
    ]
    stems = [p.name if p.is_dir() else p.stem for p in entries]
    result = []
    for path, stem in zip(entries, stems):
        student = stem if stems.count(stem) == 1 else path.name
        if path.is_symlink():
            result.append(Submission(student, (path,), f"{path.name} is a symbolic link"))
        elif path.is_dir():
            notebooks = tuple(
                p
                for p in sorted(path.rglob("*.ipynb"))
                if not any(
                    part.startswith(".") or part in _IGNORED_NAMES
                    for part in p.relative_to(path).parts
                )
            )
            problem = None if notebooks else f"folder {path.name}/ contains no .ipynb notebook"
            result.append(Submission(student, notebooks or (path,), problem))
        elif path.suffix != ".ipynb":
            result.append(
                Submission(
                    student, (path,), f"{path.name} is not a notebook (expected a .ipynb file)"
                )
            )
        else:
            result.append(Submission(student, (path,)))
    return result


@dataclass
class Grader:
    """Grades submissions against ``registry`` in ``sandbox``.

    Args:
        registry: exercise id -> :class:`Exercise` (e.g. :func:`load_registry`).
        sandbox: a started :class:`~course_lib.grading.sandbox.Sandbox`.
        expected: the exercise ids every submission must have; ``None`` means "every
            registered exercise of each chapter that the submission has a cell for".
    """

    registry: Mapping[str, Exercise]
    sandbox: Sandbox
    expected: Sequence[str] | None = None
    seed: int | None = None
    private_cases: Mapping[str, Sequence[Case]] = field(default_factory=dict)
    fresh: bool = True
    _prepared: dict[str, PreparedExercise] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _stage: Path | None = field(default=None, init=False)
    _stub_folders: dict[str, str] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        if self.seed is None and self.fresh:
            self.seed = secrets.randbelow(2**31)
        if not self.fresh:
            self.seed = None
        unknown_private = [i for i in self.private_cases if i not in self.registry]
        if unknown_private:
            raise CourseLibError(f"private cases for unknown exercise(s) {unknown_private}")
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

    def stage(self) -> tuple[Path, dict[str, str]]:
        """The stubbed copies of ``course_lib`` for this registry (built once)."""
        with self._lock:
            if self._stage is None:
                stubs = {}
                for exercise_id, exercise in self.registry.items():
                    names = list(exercise.forbidden)
                    own = reference_name(exercise.reference)
                    if own:
                        names.append(own)
                    stubs[exercise_id] = names
                stage = Path(tempfile.mkdtemp(prefix="course-lib-stage-"))
                atexit.register(remove_tree, stage)
                self._stub_folders = build_stage(stage, stubs)
                self._stage = stage
            return self._stage, self._stub_folders

    def close(self) -> None:
        """Remove the stubbed copies (also done at exit)."""
        with self._lock:
            if self._stage is not None:
                remove_tree(self._stage)
                self._stage = None

    def _expected_for(self, found: Mapping[str, ExerciseCell]) -> list[str]:
        if self.expected is not None:
            return list(self.expected)
        chapters = {self.registry[i].chapter for i in found}
        return [i for i, e in self.registry.items() if e.chapter in chapters]

    def grade(self, submission: Submission) -> StudentResult:
        """Grade one submission; never raises for anything the submission contains."""
        started = time.monotonic()
        result = StudentResult(
            submission.student, [p.name for p in submission.paths], "ok", self.sandbox.isolation
        )
        expected_fixed = list(self.expected) if self.expected is not None else []
        if submission.problem:
            return self._not_a_notebook(result, [submission.problem], expected_fixed, started)
        notebooks, problems = [], []
        for path in submission.paths:
            try:
                notebooks.append((path.name, read_notebook(path)))
            except NotANotebook as error:
                problems.append(str(error))
        if not notebooks:
            return self._not_a_notebook(result, problems, expected_fixed, started)
        result.notes += problems
        functions = {i: e.function for i, e in self.registry.items()}
        found: dict[str, ExerciseCell] = {}
        for name, notebook in notebooks:  # metadata first, in every notebook
            for i, cell in find_exercise_cells(notebook, functions, name, False).items():
                found.setdefault(i, cell)
        if self.expected is None and not found:  # all metadata lost: infer from functions
            expected = self._expected_for(self._find_by_name(notebooks, functions, found))
        else:
            expected = self._expected_for(found)
        missing = {i: functions[i] for i in expected if i not in found}
        found.update(self._find_by_name(notebooks, missing, found))
        self.prepare_all(expected)
        job_exercises = []
        for exercise_id in expected:
            prepared = self._prepared[exercise_id]
            exercise = prepared.exercise
            entry = ExerciseResult(exercise_id, exercise.title, float(exercise.points))
            result.exercises[exercise_id] = entry
            cell = found.get(exercise_id)
            if cell is None:
                entry.message = f"no cell for exercise {exercise_id} (function {exercise.function})"
                continue
            entry.cell = f"{cell.notebook}, cell {cell.index + 1} (found by {cell.found_by})"
            used = forbidden_uses(cell.source, exercise.forbidden)
            if used:
                entry.outcome = "forbidden"
                entry.message = (
                    f"the cell uses {', '.join(used)}, which this exercise asks you to "
                    f"write yourself"
                )
                continue
            job_exercises.append(
                {
                    "id": exercise_id,
                    "function": exercise.function,
                    "kind": exercise.kind,
                    "source": cell.source,
                    "cases": list(prepared.inputs),
                    "patch": [n for n in exercise.forbidden if not n.startswith("course_lib.")],
                }
            )
        if not expected:
            result.notes.append("no exercise cell found in the submission")
        if job_exercises:
            stage, folders = self.stage()
            for item in job_exercises:
                item["stub_folder"] = folders[item["id"]]
            run = self.sandbox.run({"exercises": job_exercises}, stage)
            self._score(result, run, [e["id"] for e in job_exercises])
        result.status = _status(result)
        result.seconds = round(time.monotonic() - started, 3)
        return result

    @staticmethod
    def _find_by_name(notebooks, functions, found) -> dict[str, ExerciseCell]:
        """Cells that lost their metadata, matched by the function they define."""
        more: dict[str, ExerciseCell] = {}
        for name, notebook in notebooks:
            for i, cell in find_exercise_cells(notebook, functions, name).items():
                if i not in found:
                    more.setdefault(i, cell)
        return more

    def _not_a_notebook(
        self, result: StudentResult, problems: list[str], expected: list[str], started: float
    ) -> StudentResult:
        result.status = "not-a-notebook"
        result.notes += problems
        for exercise_id in expected:
            exercise = self.registry[exercise_id]
            result.exercises[exercise_id] = ExerciseResult(
                exercise_id,
                exercise.title,
                float(exercise.points),
                outcome="not-run",
                message="the submission is not a readable notebook",
            )
        result.seconds = round(time.monotonic() - started, 3)
        return result

    def _score(self, result: StudentResult, run: SandboxRun, ids: list[str]) -> None:
        result.stdout, result.stderr = run.stdout[-4000:], run.stderr[-4000:]
        records: dict[str, dict[str, Any]] = {}
        finished = False
        for record in run.records:
            if record.get("event") == "exercise" and record.get("id") in ids:
                records.setdefault(record["id"], record)
            elif record.get("event") == "done":
                finished = True
        if run.result_truncated:
            result.notes.append("the submission sent more result data than the grader reads")
        copies = {str(r.get("copy", "none")) for r in records.values()}
        result.reference_isolation = _weakest_copy(copies, self.sandbox.isolation)
        if result.reference_isolation != "private-mount" and records:
            result.notes.append(
                "WARNING: weaker protection of the references: "
                + REFERENCE_ISOLATION_NOTES.get(
                    result.reference_isolation.split(" ")[0], result.reference_isolation
                )
            )
        for exercise_id in ids:
            entry = result.exercises[exercise_id]
            record = records.get(exercise_id)
            if record is None:
                entry.outcome = "timeout" if run.timed_out else "crashed"
                entry.message = (
                    f"the submission's time limit ({self.sandbox.limits.timeout:g} s) ran out "
                    f"before this exercise finished"
                    if run.timed_out
                    else f"the sandbox ended before this exercise ran "
                    f"(exit status {run.returncode})"
                )
                self._fill_cases(entry, [], entry.message)
                continue
            outcome = record.get("outcome")
            message = str(record.get("message", ""))[:2000]
            if outcome not in ("completed", "cell-error", "timeout", "memory", "crashed", "exited"):
                outcome, message = "crashed", "the sandbox sent a malformed result"
            entry.outcome = "graded" if outcome == "completed" else outcome
            if outcome == "exited":
                entry.outcome = "crashed"
            entry.message = message
            cases = record.get("cases")
            self._fill_cases(entry, cases if isinstance(cases, list) else [], message or "not run")
            reached = record.get("forbidden")
            if isinstance(reached, list) and reached:
                names = ", ".join(str(n)[:200] for n in reached[:5])
                entry.outcome = "forbidden"
                entry.message = (
                    f"while it ran, your code reached {names}, which this exercise does not "
                    f"allow (a reference solution, or the library function you are asked to "
                    f"write); no points for this exercise"
                )
                entry.points = 0.0
                for case in entry.cases:
                    case.passed, case.points = False, 0.0
                    case.message = "not counted: forbidden function reached"
        if not finished and not run.timed_out:
            result.notes.append(
                f"the sandbox did not finish normally (exit status {run.returncode})"
            )

    def _fill_cases(self, entry: ExerciseResult, received: list[Any], not_run: str) -> None:
        prepared = self._prepared[entry.id]
        exercise = prepared.exercise
        earned = 0.0
        weights = prepared.weights()
        groups = prepared.groups or ("public",) * len(prepared.case_names)
        for index, (name, expected) in enumerate(zip(prepared.case_names, prepared.expected)):
            item = received[index] if index < len(received) else None
            case = CaseResult(name, False, group=groups[index], max_points=weights[index])
            if isinstance(item, dict) and "output" in item:
                case.passed, case.message = _check_output(expected, item["output"], exercise)
            elif isinstance(item, dict) and "error" in item:
                case.message = f"your function raised {str(item['error'])[:2000]}"
                if str(item["error"]).startswith("not implemented"):
                    case.message = "not implemented yet"
            else:
                case.message = f"not run: {not_run}"
            if case.passed:
                case.points = case.max_points
                earned += weights[index]
            entry.cases.append(case)
        entry.points = _round(earned)


def _check_output(expected: Any, encoded: Any, exercise: Exercise) -> tuple[bool, str]:
    try:
        received = plaindata.decode(encoded, objects="dict")
    except (plaindata.PlainDataError, RecursionError, ValueError, TypeError) as error:
        return False, f"unreadable output: {str(error)[:300]}"
    try:
        problem = compare(expected, received, exercise.atol, exercise.rtol)
    except Exception as error:  # exotic values compare() was not written for
        return False, f"cannot compare your output: {type(error).__name__}: {str(error)[:300]}"
    return (problem is None), (problem or "")


REFERENCE_ISOLATION_NOTES = {
    "search-path": (
        "student code imported a stubbed copy of course_lib first, but other copies (and, "
        "without bubblewrap, the real package with its reference solutions) could still "
        "be found on disk by code that looks for them"
    ),
    "none": "student code was not given a stubbed copy of course_lib",
}


def _weakest_copy(copies: set[str], isolation: str) -> str:
    for mode in ("none", "search-path"):
        for copy in sorted(copies):
            if copy.startswith(mode):
                return copy
    return "private-mount" if copies else ("private-mount" if isolation == BUBBLEWRAP else "")


def _round(points: float) -> float:
    return float(round(points, 4)) if math.isfinite(points) else 0.0


def _status(result: StudentResult) -> str:
    outcomes = {entry.outcome for entry in result.exercises.values()}
    statuses = {_OUTCOME_STATUS[o] for o in outcomes if o in _OUTCOME_STATUS}
    if "missing" in outcomes or not result.exercises:
        statuses.add("missing-exercise")
    if any(note.startswith("the sandbox did not finish") for note in result.notes):
        statuses.add("crashed")
    return next((s for s in STATUSES if s in statuses), "ok")


def grade_all(
    grader: Grader,
    submissions: Sequence[Submission],
    jobs: int = 1,
    progress: bool = True,
    on_result: Callable[[StudentResult], None] | None = None,
) -> list[StudentResult]:
    """Grade every submission, ``jobs`` at a time, with a progress bar; sorted by student."""
    from tqdm.auto import tqdm

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
