"""The input checks (course_lib.checks): each accepts good input and names bad input."""

from __future__ import annotations

import pytest
import torch

from course_lib import checks
from course_lib.checks import (
    broadcasts_to,
    check_activations,
    check_bool_mask,
    check_flag,
    check_ids_in_vocab,
    check_int,
    check_mask_for,
    check_number,
    check_probability,
    check_token_ids,
    describe,
)
from course_lib.errors import CourseLibError, ShapeError


def test_describe():
    assert describe(torch.zeros(2, 3)) == "shape (2, 3)"
    assert describe([1]) == "list"


def test_check_int_accepts_ints_and_returns_them():
    assert check_int(3, "n") == 3
    assert check_int(0, "n", 0) == 0
    assert check_int(-5, "n") == -5


@pytest.mark.parametrize(
    ("value", "minimum", "message"),
    [
        (True, None, "n must be an integer, got True"),
        (1.0, None, "n must be an integer, got 1.0"),
        ("3", None, "n must be an integer, got '3'"),
        (None, 1, "n must be an integer, got None"),
        (0, 1, "n must be an integer >= 1, got 0"),
    ],
)
def test_check_int_names_bad_values(value, minimum, message):
    with pytest.raises(CourseLibError) as error:
        check_int(value, "n", minimum)
    assert message in str(error.value)


def test_check_flag():
    assert check_flag(False, "f") is False
    for bad in (0, 1, None, "yes"):
        with pytest.raises(CourseLibError, match="f must be True or False"):
            check_flag(bad, "f")


def test_check_number_bounds():
    assert check_number(2, "x", 0, 3) == 2.0
    assert check_number(0.5, "x", 0, 1, low_inclusive=False, high_inclusive=False) == 0.5
    with pytest.raises(CourseLibError, match=r"x must be in \[0, 1\], got 2"):
        check_number(2, "x", 0, 1)
    with pytest.raises(CourseLibError, match="x must be > 0, got 0"):
        check_number(0, "x", 0, low_inclusive=False)
    with pytest.raises(CourseLibError, match="x must be <= 1, got 3"):
        check_number(3, "x", high=1)
    for bad in (True, "1", None, float("nan")):
        with pytest.raises(CourseLibError, match="x must be a number"):
            check_number(bad, "x")


def test_check_probability():
    assert check_probability(0, "p") == 0.0
    for bad in (1.0, -0.1, 1.5):
        with pytest.raises(CourseLibError, match=r"p must be in \[0, 1\)"):
            check_probability(bad, "p")


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        ([[1, 2]], "ids must be a tensor of token ids, got list"),
        (torch.ones(2, 3), "ids must hold integer token ids, got dtype torch.float32"),
        (torch.ones(3, dtype=torch.long), r"ids must have shape \(batch, seq_len\), got \(3,\)"),
        (torch.ones(0, 3, dtype=torch.long), "ids is empty: an empty batch"),
        (torch.ones(2, 0, dtype=torch.long), "ids is empty: empty sentences"),
    ],
)
def test_check_token_ids_names_bad_input(ids, message):
    with pytest.raises(ShapeError, match=message):
        check_token_ids(ids, "ids")


def test_check_token_ids_accepts_int32_and_int64():
    check_token_ids(torch.ones(2, 3, dtype=torch.int32), "ids")
    check_token_ids(torch.ones(2, 3, dtype=torch.long), "ids")


def test_check_ids_in_vocab():
    check_ids_in_vocab(torch.tensor([[0, 4]]), 5, "ids")
    with pytest.raises(CourseLibError, match="ids contains token id 5, outside .* size 5"):
        check_ids_in_vocab(torch.tensor([[0, 5]]), 5, "ids")
    with pytest.raises(CourseLibError, match="token id -1"):
        check_ids_in_vocab(torch.tensor([[-1, 2]]), 5, "ids")


def test_check_ids_in_vocab_is_skipped_while_compiling(monkeypatch):
    monkeypatch.setattr(checks, "_is_compiling", lambda: True)
    check_ids_in_vocab(torch.tensor([[99]]), 5, "ids")  # no value read back, no error


def test_check_activations():
    check_activations(torch.zeros(2, 3, 4), 4)
    with pytest.raises(ShapeError, match=r"x must have shape \(batch, seq_len, 4\), got shape"):
        check_activations(torch.zeros(2, 3, 5), 4)
    with pytest.raises(ShapeError, match="memory must have shape .* got list"):
        check_activations([1.0], 4, "memory")
    with pytest.raises(ShapeError, match="floating-point tensor, got dtype torch.int64"):
        check_activations(torch.zeros(2, 3, 4, dtype=torch.long), 4)


def test_masks():
    assert broadcasts_to((2, 1, 1, 4), (2, 3, 5, 4))
    assert not broadcasts_to((2, 1, 1, 5), (2, 3, 5, 4))
    assert not broadcasts_to((1, 2, 1, 1, 4), (2, 3, 5, 4))
    check_bool_mask(torch.ones(2, dtype=torch.bool))
    check_mask_for(torch.ones(1, 1, 5, 4, dtype=torch.bool), (2, 3, 5, 4))
    with pytest.raises(ShapeError, match="mask must be a bool tensor .* got torch.float32"):
        check_bool_mask(torch.ones(2))
    with pytest.raises(ShapeError, match="mask must be a bool tensor .* got str"):
        check_mask_for("mask", (2, 3))
    with pytest.raises(ShapeError, match=r"mask of shape \(3, 1, 1, 4\) does not broadcast"):
        check_mask_for(torch.ones(3, 1, 1, 4, dtype=torch.bool), (2, 3, 5, 4))
