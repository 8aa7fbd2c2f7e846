"""Tests for course_lib.diagrams.training: chapter 6's teacher-forcing shift, training loop
and before/after cross-attention figures."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.figure import Figure

from course_lib.diagrams.training import (
    cross_attention_before_after,
    teacher_forcing_shift,
    training_loop,
)
from course_lib.errors import CourseLibError


def texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_shift_shows_the_running_example_in_both_rows_and_the_mask():
    before = plt.get_fignums()
    fig = teacher_forcing_shift()
    assert isinstance(fig, Figure)
    assert plt.get_fignums() == before  # closed: a notebook shows it once
    shown = texts(fig)
    # every word appears as a box in each row, once more as a mask row or column label
    for word in ["J'", "aime", "la", "pizza"]:
        assert shown.count(word) == 4, word
    assert shown.count("<start>") == 2 and shown.count("<end>") == 2
    assert "causal mask" in shown
    assert any("shifted left by one" in t for t in shown)
    assert any("position 2 predicts “la” from <start>, J', aime" in t for t in shown)
    # the mask: 5 x 5 cells, 15 allowed (lower triangle with the diagonal), 10 hatched
    cells = [p for p in fig.axes[0].patches if p.__class__.__name__ == "Rectangle"]
    assert len(cells) == 25
    assert sum(1 for c in cells if c.get_hatch()) == 10


def test_shift_without_highlight_and_other_words():
    shown = texts(teacher_forcing_shift(["Je", "mange"], highlight=None, start="<s>", end="</s>"))
    assert "<s>" in shown and "</s>" in shown and shown.count("mange") == 4
    assert not any("predicts “" in t for t in shown)


@pytest.mark.parametrize(
    "args, kwargs, message",
    [
        (([],), {}, "non-empty list"),
        (("J'aime la pizza",), {}, "non-empty list"),
        ((["J'", ""],), {}, "non-empty str"),
        ((["J'", 3],), {}, "non-empty str"),
        ((["w"] * 8,), {}, "at most 7 words"),
        ((["J'", "aime"],), {"highlight": 3}, "highlight must be a position 0..2"),
        ((["J'", "aime"],), {"highlight": -1}, "highlight"),
        ((["J'", "aime"],), {"highlight": True}, "highlight"),
        ((["J'", "aime"],), {"start": ""}, "start must be"),
        ((["J'", "aime"],), {"end": None}, "end must be"),
    ],
)
def test_shift_bad_arguments(args, kwargs, message):
    with pytest.raises(CourseLibError, match=message):
        teacher_forcing_shift(*args, **kwargs)


def test_training_loop_draws_every_stage_in_order():
    fig = training_loop()
    assert isinstance(fig, Figure)
    shown = texts(fig)
    stages = ["batch", "teacher forcing", "forward", "loss", "backward", "clip", "Adam", "schedule"]
    positions = [next(i for i, t in enumerate(shown) if t.startswith(s)) for s in stages]
    assert positions == sorted(positions)
    assert any("‖g‖ ≤ 1" in t for t in shown)
    assert any(t.startswith("every 100 steps: validate") for t in shown)
    assert "next step" in shown


def test_training_loop_options():
    shown = texts(training_loop(clip_norm=None, validate_every=None))
    assert not any(t.startswith("clip") for t in shown)
    assert not any("validate" in t for t in shown)
    assert any("‖g‖ ≤ 0.5" in t for t in texts(training_loop(clip_norm=0.5)))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"clip_norm": 0}, "clip_norm"),
        ({"clip_norm": "1"}, "clip_norm"),
        ({"clip_norm": True}, "clip_norm"),
        ({"validate_every": 0}, "validate_every"),
        ({"validate_every": 2.5}, "validate_every"),
    ],
)
def test_training_loop_bad_arguments(kwargs, message):
    with pytest.raises(CourseLibError, match=message):
        training_loop(**kwargs)


SOURCE = ["i", "love", "pizza"]
PREDICTED = ["j'", "aime", "la", "pizza", "<end>"]


def _maps(layers=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(5, 3, generator=g).softmax(-1) for _ in range(layers)]


def test_before_after_has_words_on_both_axes_and_a_colour_bar():
    before = plt.get_fignums()
    fig = cross_attention_before_after(_maps(), _maps(seed=1), SOURCE, PREDICTED)
    assert plt.get_fignums() == before
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 6 and len(fig.axes) == 7  # 2 x 3 panels + the colour bar
    titles = [ax.get_title() for ax in panels]
    assert titles[0] == "before training\ndecoder layer 1"
    assert titles[-1] == "after training\ndecoder layer 3"
    first = panels[0]
    assert [t.get_text() for t in first.get_xticklabels()] == SOURCE
    assert [t.get_text() for t in first.get_yticklabels()] == PREDICTED
    assert first.get_ylabel() == "French word predicted"
    assert panels[3].get_xlabel() == "English word (key)"
    assert fig.axes[-1].get_ylabel() == "attention weight (mean over heads)"
    assert first.images[0].get_cmap().name == "viridis"


@pytest.mark.parametrize(
    "before, after, source, predicted, message",
    [
        ([], _maps(), SOURCE, PREDICTED, "before must be a non-empty list"),
        (_maps(2), _maps(3), SOURCE, PREDICTED, "before has 2 layers but after has 3"),
        (_maps(), _maps(), SOURCE[:2], PREDICTED, r"expected \(5, 2\)"),
        (_maps(), _maps(), SOURCE, "la pizza", "predicted_words must be a non-empty list"),
        (_maps(), [torch.ones(5)] * 3, SOURCE, PREDICTED, r"after\[0\] has shape"),
    ],
)
def test_before_after_bad_arguments(before, after, source, predicted, message):
    with pytest.raises(CourseLibError, match=message):
        cross_attention_before_after(before, after, source, predicted)
