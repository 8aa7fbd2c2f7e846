"""The exercise format shared by every chapter, the self-checks and the grader.

An exercise is a function the student writes in a notebook cell. The cell carries
nbgrader-compatible metadata (see ``CONTRIBUTING.md``) and its body sits between
``### BEGIN SOLUTION`` and ``### END SOLUTION``. Everything needed to check it is
described here as plain data:

* :class:`Case` - one deterministic input (tensors, numbers, strings, lists of them);
* :class:`Exercise` - the function name, the reference implementation, the cases,
  tolerances, points and a hint.

The visible self-check in a notebook calls :func:`check`, which runs the cases in the
student's own kernel and explains the first failure. The grader never trusts that
kernel: it runs the student's cell in a sandbox, gets the outputs back as plain data and
compares them with :func:`compare` against references it computed itself.
"""

from __future__ import annotations

import math
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
        forbidden: dotted names the student's cell must not use, for example
            ``("course_lib.attention.scaled_dot_product_attention",)`` when the exercise
            is to write that function. The grader checks the cell's source statically
            (imports, attribute chains, strings) and gives the exercise no points if one
            is used; a determined student can hide a call, so this is a deterrent, not
            a proof.
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
    forbidden: tuple[str, ...] = ()


def _describe(value: Any) -> str:
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
            return f"{where}: values differ: expected {_describe(exp)}, got {_describe(got)}"
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
        return f"{where}: expected {_describe(expected)}, got {_describe(received)}"
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


def expected_outputs(exercise: Exercise) -> list[tuple[Case, Any]]:
    """The reference outputs, computed by the trusted reference implementation."""
    return [(case, call(exercise.reference, case)) for case in exercise.cases()]


def check(exercise: Exercise | str, function: Callable[..., Any]) -> None:
    """The visible self-check: run every case, raise :class:`ExerciseFailed` on the first failure.

    Args:
        exercise: the :class:`Exercise` or its id (looked up in the registry).
        function: the student's implementation.
    """
    if isinstance(exercise, str):
        from course_lib.exercises import get_exercise

        exercise = get_exercise(exercise)
    if not callable(function):
        raise ExerciseFailed(f"{exercise.id}: expected a function, got {type(function).__name__}")
    results: Sequence[tuple[Case, Any]] = expected_outputs(exercise)
    for case, expected in results:
        try:
            received = call(function, case)
        except NotImplementedError:
            raise ExerciseFailed(
                f"{exercise.id} ({exercise.title}): not implemented yet - "
                f"replace `raise NotImplementedError()` with your code."
            ) from None
        except Exception as error:  # the student's code raised: say where, keep it short
            raise ExerciseFailed(
                f"{exercise.id} ({exercise.title}), case '{case.name}': your function raised "
                f"{type(error).__name__}: {error}\nHint: {exercise.hint}"
            ) from error
        problem = compare(expected, received, exercise.atol, exercise.rtol)
        if problem:
            raise ExerciseFailed(
                f"{exercise.id} ({exercise.title}), case '{case.name}': {problem}.\n"
                f"Expected: {_describe(expected)}\nReceived: {_describe(received)}\n"
                f"Hint: {exercise.hint}"
            )
    print(f"✓ {exercise.id}: all {len(results)} checks passed ({exercise.title}).")
