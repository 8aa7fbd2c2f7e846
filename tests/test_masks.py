"""Padding and causal masks (course_lib.masks): True = may attend."""

from __future__ import annotations

import pytest
import torch

from course_lib.errors import CourseLibError, ShapeError
from course_lib.masks import causal_mask, combine_masks, padding_mask


def test_padding_mask_shape_and_values():
    ids = torch.tensor([[5, 6, 0], [7, 0, 0]])
    mask = padding_mask(ids)
    assert mask.shape == (2, 1, 1, 3) and mask.dtype == torch.bool
    assert mask[:, 0, 0].tolist() == [[True, True, False], [True, False, False]]
    assert padding_mask(ids, pad_id=5)[0, 0, 0].tolist() == [False, True, True]


def test_causal_mask_is_lower_triangular():
    mask = causal_mask(4)
    assert mask.shape == (1, 1, 4, 4) and mask.dtype == torch.bool
    assert torch.equal(
        mask[0, 0],
        torch.tensor([[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]], dtype=torch.bool),
    )


def test_causal_mask_with_start_is_the_bottom_rows_of_the_full_mask():
    full = causal_mask(6)
    assert torch.equal(causal_mask(2, start=4), full[..., 4:, :])
    assert torch.equal(causal_mask(1, start=5), torch.ones(1, 1, 1, 6, dtype=torch.bool))


def test_combine_masks_is_logical_and_with_broadcasting():
    ids = torch.tensor([[5, 6, 0], [7, 0, 0]])
    combined = combine_masks(padding_mask(ids), causal_mask(3))
    assert combined.shape == (2, 1, 3, 3)
    assert combined[1, 0].tolist() == [[True, False, False]] * 3
    assert combined[0, 0].tolist() == [
        [True, False, False],
        [True, True, False],
        [True, True, False],
    ]
    assert combine_masks(None, None) is None
    assert torch.equal(combine_masks(None, causal_mask(2)), causal_mask(2))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: padding_mask(torch.tensor([1, 2, 0])), "shape (batch, seq_len), got (3,)"),
        (lambda: padding_mask([[1, 2]]), "got list"),
        (lambda: padding_mask(torch.ones(2, 3)), "integer token ids, got dtype torch.float32"),
        (lambda: combine_masks(torch.ones(1, 1, 3, 3)), "bool tensor"),
        (lambda: combine_masks("mask"), "got str"),
        (
            lambda: combine_masks(torch.ones(2, 1, 1, 4, dtype=torch.bool), causal_mask(3)),
            "do not broadcast together",
        ),
    ],
)
def test_errors_are_named(call, message):
    with pytest.raises(ShapeError) as error:
        call()
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: causal_mask(0), "causal_mask size must be an integer >= 1, got 0"),
        (lambda: causal_mask(2.0), "causal_mask size must be an integer, got 2.0"),
        (lambda: causal_mask(True), "causal_mask size must be an integer, got True"),
        (lambda: causal_mask(3, start=-1), "causal_mask start must be an integer >= 0"),
    ],
)
def test_bad_sizes_are_named(call, message):
    with pytest.raises(CourseLibError) as error:
        call()
    assert message in str(error.value)
