"""The fast training path (course_lib.fast) computes what the eager model computes.

CPU only. The compiled tests compile TINY models (a one-layer Transformer, a dropout
probe) once per module; where torch.compile cannot run they are skipped with the reason
printed, and fail instead when the environment says ``CI=true``.
"""

from __future__ import annotations

import copy
import os
import shutil
import warnings

import pytest
import torch
from torch import nn

from course_lib import fast
from course_lib.config import TransformerConfig
from course_lib.errors import CourseLibError
from course_lib.fast import FastPathInfo, TrainingForward, describe, training_forward
from course_lib.model import Transformer

#: Fast == eager, dropout off: the loss to 1e-5 relative, every gradient to 1e-4 relative
#: (plus 1e-6 absolute for entries near 0). Inductor sums in a different order than the
#: eager kernels, so the last float32 bits differ; a wrong graph would differ by far more.
LOSS_RTOL, GRAD_RTOL, GRAD_ATOL = 1e-5, 1e-4, 1e-6
VOCAB = 23


def _require_compile() -> None:
    reason = fast.compile_unavailable(torch.device("cpu"))
    if not reason:
        return
    message = f"torch.compile is unavailable here, the fast path is NOT tested: {reason}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    warnings.warn(message, stacklevel=2)
    pytest.skip(message)


def _tiny_model(dropout: float = 0.0) -> Transformer:
    torch.manual_seed(0)
    config = TransformerConfig(
        src_vocab_size=VOCAB,
        tgt_vocab_size=VOCAB,
        d_model=16,
        n_heads=2,
        n_encoder_layers=1,
        n_decoder_layers=1,
        d_ff=32,
        dropout=dropout,
        max_len=32,
    )
    return Transformer(config).train()


def _batch(batch: int, src_len: int, tgt_len: int, seed: int):
    """Source ids, decoder input and labels with some padded rows (PAD = 0)."""
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(4, VOCAB, (batch, src_len), generator=g)
    tgt = torch.randint(4, VOCAB, (batch, tgt_len + 1), generator=g)
    src[0, src_len // 2 :] = 0
    tgt[0, tgt_len // 2 :] = 0
    return src, tgt[:, :-1], tgt[:, 1:]


def _loss_and_grads(forward, model: nn.Module, src, tgt_in, labels):
    model.zero_grad(set_to_none=True)
    logits = forward(src, tgt_in)
    loss = nn.functional.cross_entropy(
        logits.reshape(-1, VOCAB), labels.reshape(-1), ignore_index=0
    )
    loss.backward()
    return loss.detach(), {name: p.grad.clone() for name, p in model.named_parameters()}


@pytest.fixture(scope="module")
def compiled_pair():
    """An eager tiny model and a copy trained through the compiled fast path (dropout 0)."""
    _require_compile()
    eager = _tiny_model()
    twin = copy.deepcopy(eager)
    forward = training_forward(twin, "on")
    assert forward.info.path == "compiled", forward.info
    return eager, twin, forward


@pytest.mark.parametrize("shape", [(4, 9, 7), (3, 12, 5)], ids=["first", "other-lengths"])
def test_fast_path_matches_eager_loss_and_gradients(compiled_pair, shape):
    eager, twin, forward = compiled_pair
    batch = _batch(*shape, seed=shape[1])
    loss_e, grads_e = _loss_and_grads(eager, eager, *batch)
    loss_f, grads_f = _loss_and_grads(forward, twin, *batch)
    assert forward.info.path == "compiled"  # no fallback happened
    torch.testing.assert_close(loss_f, loss_e, rtol=LOSS_RTOL, atol=0)
    assert grads_f.keys() == grads_e.keys()
    for name, grad in grads_e.items():
        torch.testing.assert_close(
            grads_f[name], grad, rtol=GRAD_RTOL, atol=GRAD_ATOL, msg=lambda m, n=name: f"{n}: {m}"
        )


class _DropoutProbe(nn.Module):
    """Embeds the target ids and applies dropout: ``(batch, len)`` ids -> ``(batch, len, 64)``
    (the embedding weights are all ones, so every kept value is exactly ``1 / (1 - p)``)."""

    def __init__(self, p: float):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, 64)
        nn.init.ones_(self.embed.weight)
        self.dropout = nn.Dropout(p)

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.embed(tgt))


def test_fast_path_dropout_statistics():
    """Compiled dropout draws its masks differently (in-kernel Philox numbers instead of
    bernoulli_), so compare what matters: the dropped fraction is p (within 5 standard
    errors), kept values are scaled by exactly 1 / (1 - p), a new mask is drawn on every
    call, and the gradient flows through the same mask."""
    _require_compile()
    p = 0.3
    probe = _DropoutProbe(p).train()
    forward = training_forward(probe, "on")
    ids = torch.randint(0, VOCAB, (32, 16))
    outputs = []
    for seed in range(8):
        torch.manual_seed(seed)
        out = forward(ids, ids)
        out.sum().backward()
        outputs.append(out.detach())
    assert forward.info.path == "compiled"
    values = torch.stack(outputs)  # (8, 32, 16, 64)
    dropped = (values == 0).double().mean().item()
    standard_error = (p * (1 - p) / values.numel()) ** 0.5
    assert abs(dropped - p) < 5 * standard_error, (dropped, p)
    kept = values[values != 0]
    torch.testing.assert_close(kept, torch.full_like(kept, 1 / (1 - p)))
    assert not torch.equal(values[0], values[1])  # a fresh mask each call
    # Over many independent masks the mean is 1 (dropout keeps the expectation).
    assert abs(values.mean().item() - 1.0) < 5 * (p / (1 - p) / values.numel()) ** 0.5
    assert probe.embed.weight.grad is not None and probe.embed.weight.grad.abs().sum() > 0


def test_auto_falls_back_without_torch_compile(monkeypatch):
    monkeypatch.delattr(torch, "compile")
    info = describe(_tiny_model(), "auto")
    assert info == FastPathInfo("auto", "eager", info.reason)
    assert "torch.compile" in info.reason and torch.__version__ in info.reason
    model = _tiny_model()
    forward = training_forward(model, "auto")
    src, tgt_in, _ = _batch(2, 5, 4, seed=0)
    model.eval()
    torch.testing.assert_close(forward(src, tgt_in), model(src, tgt_in), rtol=0, atol=0)


def test_auto_falls_back_without_a_cpp_compiler(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.delenv("CXX", raising=False)
    info = describe(_tiny_model(), "auto")
    assert info.path == "eager"
    assert "C++ compiler" in info.reason


def test_on_warns_and_trains_eagerly_when_the_compiler_fails(monkeypatch):
    def broken(*args, **kwargs):
        def fail(*a, **k):
            raise RuntimeError("inductor exploded")

        return fail

    monkeypatch.setattr(fast, "compile_unavailable", lambda device=None: "")
    monkeypatch.setattr(torch, "compile", broken)
    model = _tiny_model().eval()
    forward = training_forward(model, "on")
    assert forward.info.path == "compiled"
    src, tgt_in, _ = _batch(2, 5, 4, seed=1)
    with pytest.warns(UserWarning, match="inductor exploded"):
        logits = forward(src, tgt_in)
    torch.testing.assert_close(logits, model(src, tgt_in), rtol=0, atol=0)
    assert forward.info.path == "eager" and "inductor exploded" in forward.info.reason


def test_input_errors_are_not_swallowed_by_the_fallback(monkeypatch):
    def raising(*args, **kwargs):
        def fail(*a, **k):
            raise CourseLibError("source contains token id 99")

        return fail

    monkeypatch.setattr(fast, "compile_unavailable", lambda device=None: "")
    monkeypatch.setattr(torch, "compile", raising)
    forward = training_forward(_tiny_model(), "on")
    with pytest.raises(CourseLibError, match="token id 99"):
        forward(*_batch(2, 5, 4, seed=2)[:2])
    assert forward.info.path == "compiled"


@pytest.mark.parametrize(
    ("budget", "path"),
    [
        ({"max_steps": 50}, "eager"),
        ({"max_minutes": 0.5}, "eager"),
        ({"max_steps": 50_000, "max_minutes": 0.5}, "eager"),
        ({"max_steps": fast.COMPILE_MIN_STEPS}, "compiled"),
        ({"max_minutes": 60.0}, "compiled"),
        ({}, "compiled"),
    ],
)
def test_auto_compiles_only_runs_long_enough_to_pay_back(monkeypatch, budget, path):
    monkeypatch.setattr(fast, "compile_unavailable", lambda device=None: "")
    monkeypatch.setattr(fast, "in_colab", lambda: False)
    info = describe(_tiny_model(), "auto", **budget)
    assert info.path == path, info
    if path == "eager":
        assert "compile time" in info.reason


def test_off_and_colab_are_eager(monkeypatch):
    monkeypatch.setattr(fast, "compile_unavailable", lambda device=None: "")
    assert describe(_tiny_model(), "off").path == "eager"
    monkeypatch.setattr(fast, "in_colab", lambda: True)
    info = describe(_tiny_model(), "auto")
    assert info.path == "eager" and "Colab" in info.reason
    assert describe(_tiny_model(), "on").path == "compiled"  # asked for explicitly


def test_eager_forward_is_the_model_itself():
    model = _tiny_model().eval()
    forward = training_forward(model, "off")
    assert isinstance(forward, TrainingForward) and forward.model is model
    src, tgt_in, _ = _batch(3, 6, 5, seed=3)
    torch.testing.assert_close(forward(src, tgt_in), model(src, tgt_in), rtol=0, atol=0)


@pytest.mark.parametrize("mode", ["fast", "ON", "", None, 1, True])
def test_bad_mode_is_a_clear_error(mode):
    with pytest.raises(CourseLibError, match="fast must be one of auto, on, off"):
        training_forward(_tiny_model(), mode)


@pytest.mark.parametrize("model", [None, "model", lambda src, tgt: src])
def test_a_model_that_is_not_a_module_is_a_clear_error(model):
    with pytest.raises(CourseLibError, match="nn.Module"):
        training_forward(model, "auto")
