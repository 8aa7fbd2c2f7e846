"""The exercise format shared by every chapter, the self-checks and the grader.

An exercise is a function the student writes in a notebook cell. The cell carries
nbgrader-compatible metadata (see ``CONTRIBUTING.md``) and its body sits between
``### BEGIN SOLUTION`` and ``### END SOLUTION``. Everything needed to check it is
described here as plain data:

* :class:`Case` - one deterministic input (tensors, numbers, strings, lists of them);
* :class:`Exercise` - the function name, the reference implementation, the cases,
  tolerances, points and a hint;
* :func:`compare` - how an answer is judged against the reference's output.

The visible self-check in a notebook (:func:`course_lib.exercises.selfcheck.check`) runs
the cases in the student's own kernel and explains the first failure. The grader never
trusts that kernel: it runs the student's cell in a sandbox, gets the outputs back as
plain data and compares them with :func:`compare` against references it computed itself.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch


class ExerciseFailed(AssertionError):
    """A self-check failed; the message says what was expected, what came back, and a hint."""


@dataclass(frozen=True)
class Case:
    """One input for an exercise: ``function(*args, **kwargs)``."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Exercise:
    """Everything the self-check and the grader need to know about one exercise.

    Attributes:
        id: stable identifier, also the nbgrader ``grade_id`` of the solution cell
            (for example ``"ch03_attention"``).
        chapter: chapter number, 1-7.
        title: a short human title.
        function: the name the student's cell must define.
        reference: the reference implementation, usually a ``course_lib`` function.
        cases: returns the deterministic list of :class:`Case` to run.
        points: the exercise's worth; each case is worth an equal share.
        atol, rtol: tolerances for floating-point tensors.
        hint: shown when a case fails.
        forbidden: what the student's cell must not use: ``course_lib`` functions and
            classes themselves (stored as their dotted ``module.qualname``, so the list
            follows them when they move), or dotted names as strings, for example
            ``"torch.nn.functional.scaled_dot_product_attention"`` when the exercise is to
            write that function. The grader checks the cell's source statically
            (imports, attribute chains, strings) as a first line, and at run time grades
            against a copy of ``course_lib`` in which these functions (and every
            ``reference_*`` of the exercise registry) raise :class:`ForbiddenUse`; an
            exercise whose function reaches one gets status ``forbidden`` and 0 points.
        kind: ``"checkpoint"`` (a question answered before running anything: the answer
            cell assigns a value to the variable named ``function``; ``reference`` takes
            no argument and returns the correct value; ``cases()`` is ``[Case("answer")]``),
            ``"implementation"`` (a function the chapter does not show) or
            ``"practice"`` (a function re-built from the chapter).
        explanation: shown in the grader's feedback once graded, and by the self-check
            after a correct answer.
        fresh_cases: given a seed, returns random cases of the same kind as the public
            ones; the grader draws a seed at grade time and grades on them too.
        minutes: the estimated time a learner needs, for the instructor guide's table.
    """

    id: str
    chapter: int
    title: str
    function: str
    reference: Callable[..., Any]
    cases: Callable[[], list[Case]]
    points: float = 1.0
    atol: float = 1e-5
    rtol: float = 1e-5
    hint: str = ""
    forbidden: tuple[Any, ...] = ()
    kind: str = "implementation"
    explanation: str = ""
    fresh_cases: Callable[[int], list[Case]] | None = None
    minutes: int = 10

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.id}: kind must be one of {KINDS}, got {self.kind!r}")
        names = tuple(dotted_name(item, self.id) for item in self.forbidden)
        object.__setattr__(self, "forbidden", names)  # frozen: set once, here


def dotted_name(item: Any, where: str = "forbidden") -> str:
    """``"module.qualname"`` of a function or class, or ``item`` itself when it is a
    dotted name already.

    Raises:
        TypeError: neither a string nor a named function or class.
    """
    if isinstance(item, str):
        return item
    module = getattr(item, "__module__", None)
    qualname = getattr(item, "__qualname__", None)
    if not module or not qualname or "<" in qualname:
        raise TypeError(
            f"{where}: forbidden entries are dotted names or named functions/classes, got {item!r}"
        )
    return f"{module}.{qualname}"


KINDS = ("checkpoint", "implementation", "practice")


class ForbiddenUse(RuntimeError):
    """Raised, while grading, by a function the student's code must not reach.

    The grader runs student code against a copy of ``course_lib`` in which the
    reference implementations and the exercise's forbidden library functions are
    replaced by a body raising this error; the exercise is then marked ``forbidden``.
    """

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} may not be used in this exercise")
        self.name = name
        fd = _forbidden_report_fd
        if fd is not None:  # in the grading sandbox: tell the harness at once
            try:
                os.write(fd, (json.dumps({"forbidden": str(name)[:300]}) + "\n").encode())
            except (OSError, ValueError):
                pass


# set by the grading harness in the process that runs one exercise: the pipe on which
# reaching a stubbed function is reported (None everywhere else)
_forbidden_report_fd: int | None = None


def describe(value: Any) -> str:
    """A short description of a value for a message (shape and dtype of a tensor)."""
    if isinstance(value, torch.Tensor):
        text = f"tensor of shape {tuple(value.shape)}, dtype {value.dtype}"
        if value.numel() <= 12:
            text += f": {value.tolist()}"
        return text
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


def compare(
    expected: Any, received: Any, atol: float = 1e-5, rtol: float = 1e-5, where: str = "output"
) -> str | None:
    """Compare two plain values; return ``None`` if equal, else a message saying how they differ.

    Tensors are compared by shape, then values (``allclose`` for floating point,
    exact otherwise; NaN never equals anything). Lists and tuples element by element,
    dicts key by key, floats with the tolerances, everything else with ``==``.
    """
    if isinstance(expected, torch.Tensor):
        if not isinstance(received, torch.Tensor):
            return f"{where}: expected a tensor, got {type(received).__name__}"
        if tuple(received.shape) != tuple(expected.shape):
            return (
                f"{where}: expected shape {tuple(expected.shape)}, "
                f"got shape {tuple(received.shape)}"
            )
        if expected.dtype == torch.bool or received.dtype == torch.bool:
            if received.dtype != expected.dtype:
                return f"{where}: expected dtype {expected.dtype}, got {received.dtype}"
        exp = expected.detach().cpu()
        got = received.detach().cpu()
        if exp.is_floating_point() or got.is_floating_point():
            exp, got = exp.double(), got.double()
            if torch.isnan(got).any() and not torch.isnan(exp).any():
                return f"{where}: contains NaN where none was expected"
            if not torch.allclose(got, exp, atol=atol, rtol=rtol, equal_nan=True):
                worst = (got - exp).abs().nan_to_num(float("inf")).max().item()
                return f"{where}: values differ (largest difference {worst:.3g})"
            return None
        if not torch.equal(exp, got.to(exp.dtype)):
            return f"{where}: values differ: expected {describe(exp)}, got {describe(got)}"
        return None
    if isinstance(expected, (list, tuple)):
        if not isinstance(received, (list, tuple)):
            return f"{where}: expected a {type(expected).__name__}, got {type(received).__name__}"
        if len(received) != len(expected):
            return f"{where}: expected {len(expected)} items, got {len(received)}"
        for i, (e, r) in enumerate(zip(expected, received)):
            problem = compare(e, r, atol, rtol, f"{where}[{i}]")
            if problem:
                return problem
        return None
    if isinstance(expected, dict):
        if not isinstance(received, dict):
            return f"{where}: expected a dict, got {type(received).__name__}"
        if set(received) != set(expected):
            return f"{where}: expected keys {sorted(map(str, expected))}, got {sorted(map(str, received))}"
        for key in expected:
            problem = compare(expected[key], received[key], atol, rtol, f"{where}[{key!r}]")
            if problem:
                return problem
        return None
    if isinstance(expected, float) and not isinstance(received, bool):
        if not isinstance(received, (int, float)):
            return f"{where}: expected a number, got {type(received).__name__}"
        if math.isnan(received) or not math.isclose(received, expected, rel_tol=rtol, abs_tol=atol):
            return f"{where}: expected {expected!r}, got {received!r}"
        return None
    if type(received) is not type(expected) or received != expected:
        return f"{where}: expected {describe(expected)}, got {describe(received)}"
    return None


def _clone(value: Any) -> Any:
    """Deep-copy case inputs so a function that modifies its arguments in place cannot
    change what the next call (or the reference) sees."""
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, list):
        return [_clone(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_clone(v) for v in value)
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    return value


def call(function: Callable[..., Any], case: Case) -> Any:
    """Call ``function`` on a fresh copy of the case's inputs."""
    return function(*_clone(case.args), **_clone(case.kwargs))


def expected_outputs(
    exercise: Exercise, cases: Sequence[Case] | None = None
) -> list[tuple[Case, Any]]:
    """The reference outputs, computed by the trusted reference implementation.

    For a checkpoint the reference takes no argument and returns the correct answer;
    every case (there is one, ``Case("answer")``) expects that value.
    """
    if cases is None:
        cases = exercise.cases()
    if exercise.kind == "checkpoint":
        answer = exercise.reference()
        return [(case, _clone(answer)) for case in cases]
    return [(case, call(exercise.reference, case)) for case in cases]


def run_submission(exercise: Exercise, submitted: Any, case: Case) -> Any:
    """What the student's submission gives for ``case``: the value itself for a
    checkpoint (a copy of it), ``submitted(*args, **kwargs)`` otherwise."""
    if exercise.kind == "checkpoint":
        if callable(submitted) and not isinstance(submitted, torch.Tensor):
            return submitted()
        return _clone(submitted)
    return call(submitted, case)
