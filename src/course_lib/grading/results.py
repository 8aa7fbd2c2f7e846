"""What grading one submission produces: per case, per exercise, per student, and its status.

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

from dataclasses import dataclass, field

STATUSES = ("not-a-notebook", "timeout", "memory", "crashed", "missing-exercise", "ok")
OUTCOMES = (
    "graded",
    "missing",
    "forbidden",
    "cell-error",
    "timeout",
    "memory",
    "crashed",
    "not-run",
)
SANDBOX_DID_NOT_FINISH = "the sandbox did not finish normally"
_OUTCOME_STATUS = {"timeout": "timeout", "memory": "memory", "crashed": "crashed"}


@dataclass
class CaseResult:
    """One case of one exercise: passed or not, why, and the points it earned."""

    name: str
    passed: bool
    message: str = ""
    group: str = "public"
    points: float = 0.0
    max_points: float = 0.0


@dataclass
class ExerciseResult:
    """One exercise of one submission. ``outcome`` is one of :data:`OUTCOMES`."""

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


def submission_status(result: StudentResult) -> str:
    """The most severe status (:data:`STATUSES`) that applies to a graded submission."""
    outcomes = {entry.outcome for entry in result.exercises.values()}
    statuses = {_OUTCOME_STATUS[o] for o in outcomes if o in _OUTCOME_STATUS}
    if "missing" in outcomes or not result.exercises:
        statuses.add("missing-exercise")
    if any(note.startswith(SANDBOX_DID_NOT_FINISH) for note in result.notes):
        statuses.add("crashed")
    return next((s for s in STATUSES if s in statuses), "ok")
