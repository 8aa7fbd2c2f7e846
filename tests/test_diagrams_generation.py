"""Tests for course_lib.diagrams.generation: chapter 5's decoding-loop and key/value-cache
diagrams."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure

from course_lib.diagrams.generation import autoregressive_loop, kv_cache
from course_lib.errors import CourseLibError


def texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.axes[0].texts]


def test_loop_feeds_every_word_back_from_start_to_end():
    before = plt.get_fignums()
    fig = autoregressive_loop()
    assert isinstance(fig, Figure)
    assert plt.get_fignums() == before  # closed: a notebook shows it once
    shown = texts(fig)
    assert "I love pizza" in shown
    # inputs: <start> J' aime la pizza; outputs: J' aime la pizza <end>
    assert shown.count("<start>") == 1 and shown.count("<end>") == 1
    for word in ("J'", "aime", "la", "pizza"):
        assert shown.count(word) == 2  # written at one step, read at the next
    assert sum(text.startswith("decoder\nstep") for text in shown) == 5
    assert "encoder\n(runs once)" in shown


def test_loop_with_other_words():
    shown = texts(autoregressive_loop(["I", "hate", "pizza"], ["je", "déteste", "la", "pizza"]))
    assert "I hate pizza" in shown and "déteste" in shown


def test_kv_cache_grows_one_column_per_step():
    before = plt.get_fignums()
    fig = kv_cache()
    assert isinstance(fig, Figure)
    assert plt.get_fignums() == before
    shown = texts(fig)
    inputs = ["<start>", "J'", "aime", "la", "pizza"]
    for t, word in enumerate(inputs):
        assert f"q  {word}" in shown
        # the key of the token read at step t+1 is in the cache at every later step
        assert shown.count(f"k  {word}") == len(inputs) - t
        assert shown.count(f"v  {word}") == len(inputs) - t
        assert f"{t + 1} score{'s' if t else ''}" in shown
    assert "<end>" in shown
    assert any("grows with t" in text for text in shown)


def test_kv_cache_fewer_steps():
    shown = texts(kv_cache(steps=2))
    assert "q  J'" in shown and "q  aime" not in shown


@pytest.mark.parametrize(
    ("function", "kwargs"),
    [
        (autoregressive_loop, {"source": "I love pizza"}),
        (autoregressive_loop, {"source": []}),
        (autoregressive_loop, {"output": ["a"] * 8}),
        (autoregressive_loop, {"output": ["j'", ""]}),
        (autoregressive_loop, {"output": ["j'", 3]}),
        (kv_cache, {"output": []}),
        (kv_cache, {"output": ["a"] * 7}),
        (kv_cache, {"steps": 0}),
        (kv_cache, {"steps": 6}),
        (kv_cache, {"steps": True}),
        (kv_cache, {"steps": 2.0}),
    ],
)
def test_bad_arguments_raise_course_lib_error(function, kwargs):
    with pytest.raises(CourseLibError):
        function(**kwargs)
