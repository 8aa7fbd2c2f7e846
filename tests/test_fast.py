"""The fast training path (course_lib.fast) computes what the eager model computes.

CPU only and quick. With dropout off, the CPU fast path (cheap dropout masks, the math
attention kernel for short sentences) must compute the eager model's loss and gradients:
to float rounding where it uses the math kernel, bit for bit where it does not. With
dropout on it must draw dropout with the same statistics. The
compiled path is CUDA's; its CPU equivalence test compiles a tiny model, which takes
minutes on a busy 2-core machine, so it runs in CI (``CI=true``) or with
``COURSE_TEST_COMPILE=1``.
"""

from __future__ import annotations

import copy
import os
import statistics

import pytest
import torch
import torch.nn.functional as F
from conftest import running_in_ci
from torch import nn

from course_lib import fast
from course_lib.config import TransformerConfig
from course_lib.errors import CourseLibError
from course_lib.fast import (
    CheapDropoutMasks,
    FastPathInfo,
    TrainingForward,
    cheap_dropout,
    describe,
    dropout_mask,
    training_forward,
)
from course_lib.model import Transformer

#: The compiled path against eager, dropout off: the loss to 1e-5 relative, gradients to
#: 1e-4 relative plus 1e-6 absolute (Inductor sums in another order than the eager kernels).
LOSS_RTOL, GRAD_RTOL, GRAD_ATOL = 1e-5, 1e-4, 1e-6
#: The CPU path with the math attention kernel against eager (the fused kernel), dropout
#: off: the loss to 1e-6 relative, gradients to 1e-5 relative plus 1e-7 absolute (the two
#: kernels sum the softmax and the weighted values in another order).
MATH_LOSS_RTOL, MATH_GRAD_RTOL, MATH_GRAD_ATOL = 1e-6, 1e-5, 1e-7
VOCAB = 23
CPU_PATH = FastPathInfo("on", "cpu", "test")


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
        max_len=48,
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
    loss = F.cross_entropy(logits.reshape(-1, VOCAB), labels.reshape(-1), ignore_index=0)
    loss.backward()
    return loss.detach(), {name: p.grad.clone() for name, p in model.named_parameters()}


def _assert_same_training_step(forward, twin, eager, shape, rtol=0.0, atol=0.0, loss_rtol=0.0):
    batch = _batch(*shape, seed=shape[1])
    loss_e, grads_e = _loss_and_grads(eager, eager, *batch)
    loss_f, grads_f = _loss_and_grads(forward, twin, *batch)
    torch.testing.assert_close(loss_f, loss_e, rtol=loss_rtol, atol=0)
    assert grads_f.keys() == grads_e.keys()
    for name, grad in grads_e.items():
        torch.testing.assert_close(
            grads_f[name], grad, rtol=rtol, atol=atol, msg=lambda m, n=name: f"{n}: {m}"
        )


def _no_math_kernel(monkeypatch):
    monkeypatch.setattr(fast, "math_attention_unavailable", lambda: "torch 2.2 cannot choose")


def test_cpu_auto_takes_the_cpu_path(monkeypatch):
    forward = training_forward(_tiny_model(dropout=0.1), "auto")
    assert forward.info.path == "cpu" and "dropout masks" in forward.info.reason
    assert training_forward(_tiny_model(dropout=0.1), "on").info.path == "cpu"
    if fast.math_attention_unavailable() == "":
        info = describe(_tiny_model(dropout=0.0), "auto")
        assert info.path == "cpu" and "math attention kernel" in info.reason
        assert "dropout" not in info.reason
    _no_math_kernel(monkeypatch)
    info = describe(_tiny_model(dropout=0.0), "auto")
    assert info.path == "eager" and "no dropout" in info.reason and "2.2" in info.reason
    info = describe(_tiny_model(dropout=0.1), "auto")
    assert info.path == "cpu" and "math" not in info.reason


def _attention_kernels(forward, src, tgt_in) -> set[str]:
    """Which attention kernels a forward ran: ``"fused"`` (PyTorch's flash kernel for the
    CPU) and/or ``"math"`` (its matrix-product kernel)."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
        forward(src, tgt_in)
    names = {event.name for event in profile.events()}
    kernels = {"fused": "flash_attention", "math": "dot_product_attention_math"}
    return {kernel for kernel, part in kernels.items() if any(part in name for name in names)}


@pytest.mark.skipif(fast.math_attention_unavailable() != "", reason="needs torch >= 2.3")
def test_short_batches_use_the_math_kernel_and_long_ones_the_fused_one():
    model = _tiny_model()
    forward = TrainingForward(model, CPU_PATH)
    longest = fast.MATH_ATTENTION_MAX_LEN
    assert _attention_kernels(forward, *_batch(2, longest, 5, seed=0)[:2]) == {"math"}
    assert _attention_kernels(forward, *_batch(2, longest + 1, 5, seed=0)[:2]) == {"fused"}
    assert _attention_kernels(model, *_batch(2, 9, 5, seed=0)[:2]) == {"fused"}  # eager


@pytest.mark.parametrize("shape", [(4, 9, 7), (3, 12, 5)], ids=["first", "other-lengths"])
def test_fast_path_matches_eager_with_dropout_off(shape):
    """Tolerance: MATH_*: the math attention kernel sums in another order (short batches)."""
    eager = _tiny_model()
    twin = copy.deepcopy(eager)
    forward = TrainingForward(twin, CPU_PATH)
    _assert_same_training_step(
        forward, twin, eager, shape, MATH_GRAD_RTOL, MATH_GRAD_ATOL, loss_rtol=MATH_LOSS_RTOL
    )


def test_fast_path_matches_eager_bit_for_bit_for_long_sentences():
    """Tolerance: none. Above MATH_ATTENTION_MAX_LEN, with dropout 0, the path runs exactly
    the eager kernels."""
    eager = _tiny_model()
    twin = copy.deepcopy(eager)
    forward = TrainingForward(twin, CPU_PATH)
    _assert_same_training_step(forward, twin, eager, (3, fast.MATH_ATTENTION_MAX_LEN + 4, 6))


def test_math_kernel_only_where_it_zeroes_queries_that_see_no_key(monkeypatch):
    """The model leaves a query that sees no key to the kernel where the default kernel
    zeroes it; the math kernel must do the same there (or is not used)."""
    monkeypatch.setattr(fast.attention, "_ZEROES_BLIND_ROWS_ON_CPU", True)
    monkeypatch.setattr(fast, "_math_zeroes_blind_rows", lambda: False)
    assert "NaN" in fast.math_attention_unavailable()
    monkeypatch.setattr(fast.attention, "_ZEROES_BLIND_ROWS_ON_CPU", False)  # model fixes it
    if fast.sdpa_kernel is not None:
        assert fast.math_attention_unavailable() == ""
    monkeypatch.setattr(fast, "sdpa_kernel", None)
    assert torch.__version__ in fast.math_attention_unavailable()


@pytest.mark.skipif(fast.math_attention_unavailable() != "", reason="needs torch >= 2.3")
def test_math_kernel_gives_a_blind_query_zeros_and_finite_gradients():
    q = torch.randn(1, 2, 3, 4, requires_grad=True)
    kv = torch.randn(1, 2, 3, 4, requires_grad=True)
    mask = torch.ones(1, 1, 3, 3, dtype=torch.bool)
    mask[..., 1, :] = False  # the second query sees no key
    with fast._math_kernel():
        out = fast.attention._attend(q, kv, kv, mask, dropout_p=0.0)
    out.sum().backward()
    assert torch.equal(out[:, :, 1], torch.zeros(1, 2, 4))
    assert q.grad.isfinite().all() and kv.grad.isfinite().all()


def test_dropout_mask_statistics():
    """The dropped fraction is p (within 5 standard errors; p is rounded to 1/65536), kept
    values are exactly 1 / (1 - p'), the mean is 1, and each draw is new."""
    torch.manual_seed(0)
    for p in (0.1, 0.3, 0.5):
        p_used = round(p * fast.LANES) / fast.LANES
        mask = dropout_mask((400, 1000), p, torch.float32)
        n = mask.numel()
        dropped = (mask == 0).double().mean().item()
        assert abs(dropped - p) < 5 * (p * (1 - p) / n) ** 0.5 + abs(p - p_used), (p, dropped)
        assert mask.unique().tolist() == [0.0, pytest.approx(1 / (1 - p_used))]
        assert abs(mask.double().mean().item() - 1.0) < 5 * (p / (1 - p) / n) ** 0.5
        assert not torch.equal(mask, dropout_mask((400, 1000), p, torch.float32))
    # Neighbouring lanes of one random word are independent: P(both dropped) = p^2.
    mask = dropout_mask((1_000_000,), 0.5, torch.float32) == 0
    both = (mask[0::2] & mask[1::2]).double().mean().item()
    assert abs(both - 0.25) < 5 * (0.25 * 0.75 / 500_000) ** 0.5


def test_dropout_masks_are_reproducible_from_the_seed():
    torch.manual_seed(7)
    first = dropout_mask((64, 20, 128), 0.1, torch.float32)
    torch.manual_seed(7)
    assert torch.equal(first, dropout_mask((64, 20, 128), 0.1, torch.float32))


def test_cheap_dropout_gradient_uses_the_same_mask():
    x = torch.rand(50, 60) + 0.5
    x.requires_grad_(True)
    out = cheap_dropout(x, 0.25)
    out.sum().backward()
    torch.testing.assert_close(x.grad, out.detach() / x.detach(), rtol=1e-6, atol=0)
    assert torch.equal(cheap_dropout(x, 0.25, training=False), x)
    assert torch.equal(cheap_dropout(x, 0.0), x)


def test_every_dropout_of_the_model_uses_cheap_masks_with_rate_p():
    """Hooks on the model's nn.Dropout modules: under the fast path each drops a fraction p
    of its (nonzero) inputs and scales the rest by 1 / (1 - p)."""
    p = 0.3
    model = _tiny_model(dropout=p)
    seen = []

    def probe(module, inputs, output):
        x = inputs[0].detach()
        nonzero = x != 0
        seen.append((output.detach()[nonzero] / x[nonzero]).flatten())

    handles = [m.register_forward_hook(probe) for m in model.modules() if isinstance(m, nn.Dropout)]
    forward = training_forward(model, "auto")
    src, tgt_in, _ = _batch(16, 12, 10, seed=5)
    for seed in range(5):
        torch.manual_seed(seed)
        forward(src, tgt_in)
    for handle in handles:
        handle.remove()
    ratios = torch.cat(seen)
    p_used = round(p * fast.LANES) / fast.LANES
    dropped = (ratios == 0).double().mean().item()
    assert abs(dropped - p) < 5 * (p * (1 - p) / ratios.numel()) ** 0.5
    torch.testing.assert_close(
        ratios[ratios != 0], torch.full_like(ratios[ratios != 0], 1 / (1 - p_used))
    )


def test_attention_dropout_keeps_the_attention_formula(monkeypatch):
    """The attention path computes softmax(Q K^T / sqrt(d_k), masked) @ V with dropout on
    the weights: with the dropout itself replaced by the identity it equals PyTorch's SDPA."""
    monkeypatch.setattr(fast, "cheap_dropout", lambda x, p, *args, **kwargs: x)
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 6, 8), torch.randn(2, 3, 6, 4)
    mask = torch.rand(2, 1, 5, 6) > 0.4
    mask[0, 0, 1] = False  # a query with no key: zeros, as PyTorch gives
    with CheapDropoutMasks():
        ours = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=0.2)
    torch.testing.assert_close(ours, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))


def test_model_loss_statistics_match_eager_with_dropout_on():
    """Over many dropout draws, the training loss of the fast path has the eager path's
    mean (within 5 standard errors) and a similar spread."""
    model = _tiny_model(dropout=0.3)
    src, tgt_in, labels = _batch(8, 10, 9, seed=11)
    forward = training_forward(model, "auto")
    assert forward.info.path == "cpu"

    def losses(fn):
        out = []
        with torch.no_grad():
            for seed in range(150):
                torch.manual_seed(seed)
                logits = fn(src, tgt_in)
                out.append(F.cross_entropy(logits.reshape(-1, VOCAB), labels.reshape(-1)).item())
        return out

    fast_losses, eager_losses = losses(forward), losses(model)
    spread = statistics.stdev(eager_losses)
    error = (2 * spread**2 / len(eager_losses)) ** 0.5
    assert abs(statistics.mean(fast_losses) - statistics.mean(eager_losses)) < 5 * error
    assert 0.7 < statistics.stdev(fast_losses) / spread < 1.4


@pytest.mark.slow
@pytest.mark.skipif(
    not running_in_ci() and os.environ.get("COURSE_TEST_COMPILE") != "1",
    reason="the compiled path is CUDA's; compiling it on a busy CPU takes minutes: runs in CI "
    "(CI=true) or with COURSE_TEST_COMPILE=1",
)
def test_compiled_path_matches_eager_loss_and_gradients():
    if not hasattr(torch, "compile") or not torch._dynamo.is_dynamo_supported():
        pytest.fail("COURSE_TEST_COMPILE=1 but torch.compile is unavailable here")
    eager = _tiny_model()
    twin = copy.deepcopy(eager)
    forward = TrainingForward(twin, FastPathInfo("on", "compiled", "test"))
    for shape in ((4, 9, 7), (3, 12, 5)):  # one graph for both (dynamic shapes)
        _assert_same_training_step(
            forward, twin, eager, shape, GRAD_RTOL, GRAD_ATOL, loss_rtol=LOSS_RTOL
        )
    assert forward.info.path == "compiled"  # no fallback happened


CUDA = torch.device("cuda")


def test_compile_unavailable_says_why(monkeypatch):
    """The compiled path's preconditions, each with its message (no GPU needed: the
    decision for a CUDA model is made by ``_compile_path`` from the device alone)."""
    assert "for CUDA, not cpu" in fast.compile_unavailable(torch.device("cpu"))
    monkeypatch.setattr(fast.importlib.util, "find_spec", lambda name: None)
    assert "Triton" in fast.compile_unavailable(CUDA)
    monkeypatch.delattr(torch, "compile")
    reason = fast.compile_unavailable(CUDA)
    assert "torch.compile" in reason and torch.__version__ in reason


def test_auto_falls_back_to_eager_where_compile_is_unavailable(monkeypatch):
    monkeypatch.delattr(torch, "compile")
    info = fast._compile_path("auto", CUDA, None, None)
    assert info.path == "eager" and "has no torch.compile" in info.reason
    forward = TrainingForward(_tiny_model(), info)
    src, tgt_in, _ = _batch(2, 5, 4, seed=0)
    model = forward.model.eval()
    torch.testing.assert_close(forward(src, tgt_in), model(src, tgt_in), rtol=0, atol=0)


def test_on_warns_when_it_has_no_fast_path(monkeypatch):
    _no_math_kernel(monkeypatch)
    with pytest.warns(UserWarning, match="no dropout"):
        forward = training_forward(_tiny_model(dropout=0.0), "on")
    assert forward.info.path == "eager"


def test_a_failing_compiler_warns_and_trains_eagerly(monkeypatch):
    def broken(*args, **kwargs):
        def fail(*a, **k):
            raise RuntimeError("inductor exploded")

        return fail

    monkeypatch.setattr(torch, "compile", broken)
    model = _tiny_model().eval()
    forward = TrainingForward(model, FastPathInfo("on", "compiled", "test"))
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

    monkeypatch.setattr(torch, "compile", raising)
    forward = TrainingForward(_tiny_model(), FastPathInfo("on", "compiled", "test"))
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
    info = fast._compile_path("auto", CUDA, budget.get("max_steps"), budget.get("max_minutes"))
    assert info.path == path, info
    if path == "eager":
        assert "compile time" in info.reason
    assert fast._compile_path("on", CUDA, 1, 0.1).path == "compiled"  # asked for explicitly


def test_off_and_colab_are_eager(monkeypatch):
    assert describe(_tiny_model(dropout=0.1), "off").path == "eager"
    monkeypatch.setattr(fast, "compile_unavailable", lambda device=None: "")
    monkeypatch.setattr(fast, "in_colab", lambda: True)
    info = fast._compile_path("auto", CUDA, None, None)
    assert info.path == "eager" and "Colab" in info.reason


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
