"""Tests for course_lib.optim: the paper's schedule and Adam."""

from __future__ import annotations

import pytest
import torch

from course_lib.errors import CourseLibError
from course_lib.optim import (
    WarmupInverseSqrtSchedule,
    clip_gradients,
    make_optimizer,
    noam_schedule,
)


def test_noam_schedule_values():
    d, warmup = 512, 4000
    assert noam_schedule(1, d, warmup) == pytest.approx(d**-0.5 * warmup**-1.5)
    peak = noam_schedule(warmup, d, warmup)
    assert peak == pytest.approx((d * warmup) ** -0.5)  # about 7.0e-4 for the paper
    assert peak == pytest.approx(6.99e-4, rel=1e-3)
    assert noam_schedule(warmup - 1, d, warmup) < peak > noam_schedule(warmup + 1, d, warmup)
    assert noam_schedule(4 * warmup, d, warmup) == pytest.approx(peak / 2)
    assert noam_schedule(100, d, warmup, scale=2.0) == pytest.approx(
        2 * noam_schedule(100, d, warmup)
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(step=0, d_model=128), "step must be an integer >= 1"),
        (dict(step=1.5, d_model=128), "step must be an integer"),
        (dict(step=1, d_model=0), "d_model"),
        (dict(step=1, d_model=128, warmup_steps=0), "warmup_steps"),
        (dict(step=1, d_model=128, scale=0), "scale must be a positive"),
    ],
)
def test_noam_schedule_bad_input(kwargs, message):
    with pytest.raises(CourseLibError, match=message):
        noam_schedule(**kwargs)


def test_scheduler_follows_the_formula_and_state_is_plain():
    model = torch.nn.Linear(3, 3)
    optimizer = torch.optim.Adam(model.parameters(), lr=123.0)
    scheduler = WarmupInverseSqrtSchedule(optimizer, d_model=64, warmup_steps=10, scale=0.5)
    seen = []
    for _ in range(30):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert seen == pytest.approx([noam_schedule(s, 64, 10, 0.5) for s in range(1, 31)])
    state = scheduler.state_dict()
    assert all(isinstance(v, (int, float, bool, list, str, type(None))) for v in state.values())
    with pytest.raises(CourseLibError, match="warmup_steps"):
        WarmupInverseSqrtSchedule(optimizer, d_model=64, warmup_steps=0)


def test_make_optimizer_uses_the_papers_adam():
    optimizer = make_optimizer(torch.nn.Linear(2, 2))
    group = optimizer.param_groups[0]
    assert group["betas"] == (0.9, 0.98) and group["eps"] == 1e-9
    with pytest.raises(CourseLibError, match="nn.Module"):
        make_optimizer("model")


def test_make_optimizer_needs_trainable_parameters():
    frozen = torch.nn.Linear(2, 2).requires_grad_(False)
    with pytest.raises(CourseLibError, match="no trainable parameters"):
        make_optimizer(frozen)


def _fused_cpu_adam_exists() -> bool:
    try:
        torch.optim.Adam(torch.nn.Linear(1, 1).parameters(), fused=True)
    except (RuntimeError, TypeError, ValueError):
        return False
    return True


def test_make_optimizer_takes_the_fused_kernel_where_torch_has_one():
    optimizer = make_optimizer(torch.nn.Linear(2, 2))
    assert bool(optimizer.param_groups[0].get("fused")) == _fused_cpu_adam_exists()


def test_fused_and_default_adam_move_the_weights_alike():
    """The fused kernel is the same arithmetic: five steps of each from the same start end at
    the same weights (to float rounding)."""
    torch.manual_seed(0)
    first = torch.nn.Linear(8, 4)
    second = torch.nn.Linear(8, 4)
    second.load_state_dict(first.state_dict())
    fused = make_optimizer(first)
    default = torch.optim.Adam(second.parameters(), lr=1.0, betas=(0.9, 0.98), eps=1e-9)
    for step in range(5):
        x = torch.randn(16, 8, generator=torch.Generator().manual_seed(step))
        for model, optimizer in ((first, fused), (second, default)):
            optimizer.zero_grad()
            for group in optimizer.param_groups:
                group["lr"] = 1e-3
            model(x).pow(2).mean().backward()
            optimizer.step()
    for a, b in zip(first.parameters(), second.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


def test_make_optimizer_falls_back_where_no_fused_kernel_exists(monkeypatch):
    real_adam = torch.optim.Adam

    def adam_without_fused(params, fused=None, **settings):
        if fused:
            raise RuntimeError("`fused=True` requires all the params to be on supported devices")
        return real_adam(params, **settings)

    monkeypatch.setattr(torch.optim, "Adam", adam_without_fused)
    optimizer = make_optimizer(torch.nn.Linear(2, 2))
    assert not optimizer.param_groups[0].get("fused")
    assert optimizer.param_groups[0]["betas"] == (0.9, 0.98)


def _with_gradients(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    model(torch.randn(5, 4)).pow(2).sum().mul(10).backward()
    return model


def test_clip_gradients_is_clip_grad_norm():
    """The same norm and the same clipped gradients as PyTorch's per-tensor loop."""
    ours, reference = _with_gradients(0), _with_gradients(0)
    norm = clip_gradients(ours, 1.0)
    expected = torch.nn.utils.clip_grad_norm_(reference.parameters(), 1.0, foreach=False)
    torch.testing.assert_close(norm, expected)
    assert norm > 1.0  # the case that clips
    for mine, theirs in zip(ours.parameters(), reference.parameters()):
        torch.testing.assert_close(mine.grad, theirs.grad)
    total = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in ours.parameters()]))
    assert total == pytest.approx(1.0, rel=1e-5)
    unclipped = _with_gradients(0)
    before = [p.grad.clone() for p in unclipped.parameters()]
    clip_gradients(unclipped, 1e6)
    assert all(torch.equal(a, p.grad) for a, p in zip(before, unclipped.parameters()))


def test_clip_gradients_falls_back_without_foreach_kernels(monkeypatch):
    real = torch.nn.utils.clip_grad_norm_
    calls = []

    def old_torch(params, max_norm, foreach=None):
        calls.append(foreach)
        if foreach:
            raise RuntimeError("foreach=True was passed, but can't use the foreach API on cpu")
        return real(params, max_norm, foreach=False)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", old_torch)
    model, reference = _with_gradients(1), _with_gradients(1)
    torch.testing.assert_close(clip_gradients(model, 0.5), real(reference.parameters(), 0.5))
    assert calls == [True, None]


@pytest.mark.parametrize(
    ("model", "max_norm", "message"),
    [
        ("a model", 1.0, "needs an nn.Module"),
        (torch.nn.Linear(2, 2), 0.0, "positive number"),
        (torch.nn.Linear(2, 2), -1, "positive number"),
        (torch.nn.Linear(2, 2), True, "positive number"),
        (torch.nn.Linear(2, 2), "1", "positive number"),
    ],
)
def test_clip_gradients_bad_input(model, max_norm, message):
    with pytest.raises(CourseLibError, match=message):
        clip_gradients(model, max_norm)


def test_clip_gradients_without_gradients_is_zero():
    assert clip_gradients(torch.nn.Linear(2, 2), 1.0).item() == 0.0
