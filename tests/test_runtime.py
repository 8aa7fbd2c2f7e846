"""Tests for course_lib.runtime: seeds, random-number states, device, precision."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from course_lib import runtime
from course_lib.errors import CourseLibError
from course_lib.runtime import (
    cpu_has_bf16_instructions,
    get_rng_state,
    resolve_precision,
    seed_everything,
    select_device,
    set_rng_state,
)


def _draw() -> tuple[float, float, float]:
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_seed_everything_seeds_python_numpy_and_torch():
    seed_everything(3)
    first = _draw()
    seed_everything(3)
    assert _draw() == first
    seed_everything(4)
    assert _draw() != first
    with pytest.raises(CourseLibError, match="seed must be an integer"):
        seed_everything("3")
    with pytest.raises(CourseLibError, match="seed must be an integer"):
        seed_everything(True)


def test_rng_state_round_trip():
    seed_everything(0)
    state = get_rng_state()
    first = _draw()
    _draw()
    set_rng_state(state)
    assert _draw() == first
    assert isinstance(state["torch"], torch.Tensor) and isinstance(state["numpy"][1], torch.Tensor)
    with pytest.raises(CourseLibError, match="rng state must be a dict"):
        set_rng_state([1, 2])


def test_device_and_precision_selection():
    assert select_device("cpu") == torch.device("cpu")
    assert select_device("auto").type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(CourseLibError, match="CUDA is not available"):
            select_device("cuda")
    with pytest.raises(CourseLibError, match="device must be"):
        select_device("tpu")
    with pytest.raises(CourseLibError, match="device must be"):
        select_device(3)
    native = cpu_has_bf16_instructions()
    assert resolve_precision("auto", torch.device("cpu")) is (torch.bfloat16 if native else None)
    assert resolve_precision("bf16", torch.device("cpu")) is torch.bfloat16
    with pytest.raises(CourseLibError, match="fp16 needs a GPU"):
        resolve_precision("fp16", torch.device("cpu"))
    with pytest.raises(CourseLibError, match="precision must be"):
        resolve_precision("int8", torch.device("cpu"))


def test_auto_precision_on_the_cpu_follows_its_bf16_instructions(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert runtime.cpu_has_bf16_instructions()
    assert resolve_precision("auto", cpu) is torch.bfloat16
    assert resolve_precision("fp32", cpu) is None  # asked for explicitly
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    assert resolve_precision("auto", cpu) is None
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert resolve_precision("auto", cpu) is torch.bfloat16
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported")  # an older torch
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported")
    assert resolve_precision("auto", cpu) is None
    assert resolve_precision("auto", torch.device("mps")) is None


def test_mixed_precision_is_autocast_or_nothing():
    a, b = torch.randn(4, 4), torch.randn(4, 4)
    with runtime.mixed_precision("cpu", torch.bfloat16):
        assert (a @ b).dtype is torch.bfloat16
    with runtime.mixed_precision("cpu", None):
        assert (a @ b).dtype is torch.float32
    with pytest.raises(CourseLibError, match="floating torch dtype"):
        runtime.mixed_precision("cpu", torch.int64)
    with pytest.raises(CourseLibError, match="floating torch dtype"):
        runtime.mixed_precision("cpu", "bf16")
    with pytest.raises(CourseLibError, match="device_type"):
        runtime.mixed_precision(torch.device("cpu"), torch.bfloat16)
