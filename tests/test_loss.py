"""Tests for course_lib.loss: teacher forcing, the label-smoothed loss, the held-out loss.

The loss must equal ``F.cross_entropy(..., ignore_index=..., label_smoothing=...)``, value and
gradient, wherever that is finite, extreme finite logits included (no clamping of
log-probabilities), and stay usable where it is not: a batch of padding only (0, not nan) and
classes masked out with -inf (no smoothing mass on them, not inf).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from tiny_training import PAIRS, tiny_model, tokenizers

from course_lib.batching import encode_pairs
from course_lib.errors import CourseLibError
from course_lib.loss import (
    LabelSmoothingLoss,
    heldout_loss,
    label_smoothed_cross_entropy,
    teacher_forcing,
)
from course_lib.tokenize import END, PAD, START

SMOOTHINGS = [0.0, 0.1, 0.5, 1.0]


def _torch(logits, labels, smoothing, ignore_index=PAD, reduction="mean"):
    return F.cross_entropy(
        logits.reshape(-1, logits.size(-1)),
        labels.reshape(-1),
        ignore_index=ignore_index,
        label_smoothing=smoothing,
        reduction=reduction,
    )


def _value_and_grad(loss_fn, logits, labels, smoothing, **kwargs):
    x = logits.clone().requires_grad_()
    loss = loss_fn(x, labels, smoothing, **kwargs)
    loss.backward()
    return loss.detach(), x.grad


def _assert_same_as_torch(logits, labels, smoothing, rtol=1e-5, atol=1e-5, **kwargs):
    ours, our_grad = _value_and_grad(
        label_smoothed_cross_entropy, logits, labels, smoothing, **kwargs
    )
    theirs, their_grad = _value_and_grad(_torch, logits, labels, smoothing, **kwargs)
    assert torch.isfinite(theirs), "the comparison only holds where F.cross_entropy is finite"
    torch.testing.assert_close(ours, theirs, rtol=rtol, atol=atol)
    torch.testing.assert_close(our_grad, their_grad, rtol=rtol, atol=atol)


# ----------------------------------------------------------------------------------------
# equal to F.cross_entropy wherever that is finite
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equals_torch_on_random_logits(smoothing, seed):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(3, 5, 11, generator=g) * 3
    labels = torch.randint(1, 11, (3, 5), generator=g)
    labels[0, 3:] = PAD
    labels[2, 1:] = PAD
    _assert_same_as_torch(logits, labels, smoothing, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_equals_torch_for_every_reduction(reduction):
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(4, 6, 9, generator=g) * 2
    labels = torch.randint(1, 9, (4, 6), generator=g)
    labels[1, 2:] = PAD
    ours = label_smoothed_cross_entropy(logits, labels, 0.1, reduction=reduction)
    theirs = _torch(logits, labels, 0.1, reduction=reduction)
    torch.testing.assert_close(ours.reshape(theirs.shape), theirs)


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
@pytest.mark.parametrize("scale", [1e2, 1e4, 1e30])
def test_equals_torch_on_extreme_finite_logits(smoothing, scale):
    """The most wrong tokens: log p of the label far below -100. Nothing is clamped."""
    logits = torch.tensor([[[0.0, scale, -scale, 5.0], [scale, -scale, 0.0, scale / 2]]])
    labels = torch.tensor([[2, 1]])  # the model is absurdly sure of a wrong class
    _assert_same_as_torch(logits, labels, smoothing)


def test_the_extreme_case_of_the_chapter():
    """Logits (0, 1e4, -1e4, 5), label 2: -log p_y = 20,000; the loss is about 19,000."""
    logits = torch.tensor([[[0.0, 1e4, -1e4, 5.0]]], requires_grad=True)
    labels = torch.tensor([[2]])
    loss = label_smoothed_cross_entropy(logits, labels, 0.1)
    expected = 0.9 * 2e4 + 0.1 * (1e4 + 0.0 + 2e4 + (1e4 - 5.0)) / 4
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert loss.item() == pytest.approx(_torch(logits.detach(), labels, 0.1).item(), rel=1e-6)
    loss.backward()
    # The wrong label's logit is pushed up with weight (1 - eps) + eps / V - p_y = 0.925:
    # the gradient a clamp at -100 would have set to 0.
    assert logits.grad[0, 0, 2].item() == pytest.approx(-(0.9 + 0.1 / 4), rel=1e-6)
    assert logits.grad[0, 0, 1].item() == pytest.approx(1 - 0.1 / 4, rel=1e-6)


def test_no_clamp_keeps_the_gradient_of_the_most_wrong_tokens():
    """A clamp at -100 (the old floor) changes the value and zeroes the label's gradient."""
    logits = torch.tensor([[0.0, 300.0, -300.0]], requires_grad=True)
    labels = torch.tensor([2])
    clamped = logits.log_softmax(-1).clamp(min=-100.0)
    old = -clamped[0, 2]
    old.backward(retain_graph=True)
    assert old.item() == 100.0 and torch.equal(logits.grad, torch.zeros_like(logits))
    logits.grad = None
    ours = label_smoothed_cross_entropy(logits, labels, 0.0)
    ours.backward()
    assert ours.item() == pytest.approx(600.0)
    assert logits.grad[0, 2].item() == pytest.approx(-1.0)


def test_equals_the_kl_definition_plus_entropy():
    torch.manual_seed(1)
    logits = torch.randn(4, 7)
    labels = torch.tensor([1, 4, 6, 2])
    eps = 0.2
    target = torch.full((4, 7), eps / 7)
    target[torch.arange(4), labels] += 1 - eps
    expected = -(target * logits.log_softmax(-1)).sum(-1).mean()
    assert torch.allclose(label_smoothed_cross_entropy(logits, labels, eps), expected, atol=1e-6)


def test_other_ignore_index_and_int32_labels():
    g = torch.Generator().manual_seed(4)
    logits = torch.randn(2, 5, 6, generator=g)
    labels = torch.randint(0, 6, (2, 5), generator=g)
    labels[0, 4] = -100
    ours = label_smoothed_cross_entropy(logits, labels.int(), 0.1, ignore_index=-100)
    torch.testing.assert_close(ours, _torch(logits, labels, 0.1, ignore_index=-100))


def test_half_precision_logits_are_computed_in_float32():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(2, 4, 9, generator=g)
    labels = torch.tensor([[3, 4, 5, PAD], [6, PAD, PAD, PAD]])
    full = label_smoothed_cross_entropy(logits, labels, 0.1)
    for dtype in (torch.float16, torch.bfloat16):
        low = label_smoothed_cross_entropy(logits.to(dtype), labels, 0.1)
        assert low.dtype == torch.float32 and torch.allclose(full, low, atol=2e-2)


def test_reductions_and_module():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(2, 4, 9, generator=g)
    labels = torch.tensor([[3, 4, 5, PAD], [6, PAD, PAD, PAD]])
    full = label_smoothed_cross_entropy(logits, labels, 0.1)
    per_token = label_smoothed_cross_entropy(logits, labels, 0.1, reduction="none")
    assert per_token.shape == (2, 4) and per_token[0, 3] == 0 and per_token[1, 1:].eq(0).all()
    total = label_smoothed_cross_entropy(logits, labels, 0.1, reduction="sum")
    assert torch.allclose(total / 4, full)
    module = LabelSmoothingLoss(0.1)
    assert torch.allclose(module(logits, labels), full)
    assert "smoothing=0.1" in repr(module)


# ----------------------------------------------------------------------------------------
# where F.cross_entropy is not finite: padding only, -inf logits
# ----------------------------------------------------------------------------------------


def test_all_padding_batch_gives_zero_and_zero_gradients():
    logits = torch.randn(2, 3, 5, requires_grad=True)
    labels = torch.full((2, 3), PAD)
    loss = label_smoothed_cross_entropy(logits, labels, 0.1)
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits))
    # torch's own cross_entropy gives nan here (0 tokens, 0/0): the documented difference
    assert math.isnan(_torch(logits.detach(), labels, 0.1).item())


def test_ignored_positions_never_reach_the_gradient():
    logits = torch.tensor(
        [[[0.0, 1.0, 2.0], [float("nan"), float("inf"), float("-inf")]]], requires_grad=True
    )
    labels = torch.tensor([[2, PAD]])
    loss = label_smoothed_cross_entropy(logits, labels, 0.1)
    assert torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(logits.grad).all() and logits.grad[0, 1].eq(0).all()
    torch.testing.assert_close(loss, label_smoothed_cross_entropy(logits[:, :1], labels[:, :1]))


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
def test_minus_infinity_logits_get_no_smoothing_mass(smoothing):
    """A class masked out with -inf: finite loss, equal to the smoothed cross-entropy over
    the classes that remain (and to F.cross_entropy on those classes alone)."""
    inf = float("inf")
    logits = torch.tensor([[0.0, -inf, 2.0, -inf, 1.0]], requires_grad=True)
    labels = torch.tensor([2])
    loss = label_smoothed_cross_entropy(logits, labels, smoothing)
    assert torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(logits.grad).all()
    assert logits.grad[0, 1] == 0 and logits.grad[0, 3] == 0
    allowed = logits.detach()[:, [0, 2, 4]]
    expected = F.cross_entropy(allowed, torch.tensor([1]), label_smoothing=smoothing)
    torch.testing.assert_close(loss.detach(), expected)
    if smoothing > 0:  # F.cross_entropy itself: eps / V * -log 0 = inf
        assert math.isinf(_torch(logits.detach(), labels, smoothing).item())


def test_minus_infinity_on_the_correct_class_is_an_honest_inf():
    logits = torch.tensor([[0.0, float("-inf"), 2.0]], requires_grad=True)
    loss = label_smoothed_cross_entropy(logits, torch.tensor([1]), 0.1)
    assert math.isinf(loss.item()) and loss.item() > 0
    loss.backward()
    assert torch.isfinite(logits.grad).all()
    # a uniform target (smoothing 1) does not look at the label at all: finite
    assert torch.isfinite(label_smoothed_cross_entropy(logits, torch.tensor([1]), 1.0))


def test_nan_logits_at_a_real_token_give_nan():
    logits = torch.tensor([[0.0, float("nan"), 1.0]])
    assert math.isnan(label_smoothed_cross_entropy(logits, torch.tensor([2]), 0.1).item())


def test_tiny_vocabularies():
    # V = 1: the only class is certain; nothing to learn, loss 0 for any smoothing
    for smoothing in SMOOTHINGS:
        loss = label_smoothed_cross_entropy(
            torch.randn(3, 1), torch.tensor([0, 0, 0]), smoothing, ignore_index=-100
        )
        assert loss.item() == 0.0
    # V = 2 (no division by V - 2 anywhere), with padding id 0 among the classes
    logits = torch.randn(4, 2)
    labels = torch.tensor([1, 1, 0, 1])
    _assert_same_as_torch(logits, labels, 0.1, rtol=1e-6, atol=1e-6)


# ----------------------------------------------------------------------------------------
# bad input
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        ((torch.randn(2, 5), torch.tensor([1, 2, 3])), "share their leading shape"),
        ((torch.randn(2, 5), torch.tensor([1.0, 2.0])), "integer tensor"),
        ((torch.tensor([[1, 2]]), torch.tensor([1])), "float tensor"),
        (("logits", torch.tensor([1])), "float tensor"),
        ((torch.randn(2, 5), [1, 2]), "integer tensor"),
        ((torch.randn(2, 5), torch.tensor([1, 7])), "label 7 is outside the 5 classes"),
        ((torch.randn(2, 5), torch.tensor([1, -3])), "label -3 is outside"),
        ((torch.randn(2, 0), torch.zeros(2, dtype=torch.long)), "empty class dimension"),
    ],
)
def test_bad_input(args, message):
    with pytest.raises(CourseLibError, match=message):
        label_smoothed_cross_entropy(*args)


@pytest.mark.parametrize("smoothing", [-0.1, 1.5, "0.1", True, None])
def test_bad_smoothing(smoothing):
    with pytest.raises(CourseLibError, match="smoothing"):
        label_smoothed_cross_entropy(torch.randn(2, 5), torch.tensor([1, 2]), smoothing)
    with pytest.raises(CourseLibError, match="smoothing"):
        LabelSmoothingLoss(smoothing)


def test_bad_reduction():
    with pytest.raises(CourseLibError, match="reduction"):
        label_smoothed_cross_entropy(torch.randn(2, 5), torch.tensor([1, 2]), 0.1, reduction="avg")


# ----------------------------------------------------------------------------------------
# teacher forcing
# ----------------------------------------------------------------------------------------


def test_teacher_forcing_shifts_and_puts_end_after_each_row():
    tgt = torch.tensor([[5, 6, 7, 8], [9, 10, PAD, PAD], [11, PAD, PAD, PAD]])
    decoder_input, labels = teacher_forcing(tgt)
    assert decoder_input.tolist() == [
        [START, 5, 6, 7, 8],
        [START, 9, 10, PAD, PAD],
        [START, 11, PAD, PAD, PAD],
    ]
    assert labels.tolist() == [
        [5, 6, 7, 8, END],
        [9, 10, END, PAD, PAD],
        [11, END, PAD, PAD, PAD],
    ]
    # labels are the decoder input shifted left by one, wherever the input is real
    real = decoder_input[:, 1:] != PAD
    assert torch.equal(labels[:, :-1][real], decoder_input[:, 1:][real])


def test_teacher_forcing_on_a_real_batch_and_empty_row():
    _, tgt_tok = tokenizers(PAIRS[:8])
    ids = tgt_tok.encode("J'aime la pizza")
    tgt = torch.tensor([ids, [PAD] * len(ids)])
    decoder_input, labels = teacher_forcing(tgt)
    assert tgt_tok.decode(labels[0].tolist()) == "J'aime la pizza"
    assert labels[0, len(ids)] == END
    assert labels[1].tolist() == [END] + [PAD] * len(ids)  # an empty target: just <end>
    assert decoder_input[1].tolist() == [START] + [PAD] * len(ids)


def test_teacher_forcing_custom_ids():
    decoder_input, labels = teacher_forcing(
        torch.tensor([[7, 8, -1]]), start_id=100, end_id=101, pad_id=-1
    )
    assert decoder_input.tolist() == [[100, 7, 8, -1]]
    assert labels.tolist() == [[7, 8, 101, -1]]


@pytest.mark.parametrize(
    "bad, message",
    [
        ([[1, 2]], "must be a tensor"),
        (torch.tensor([1, 2, 3]), "shape (batch, tgt_len)"),
        (torch.tensor([[1.0, 2.0]]), "integer token ids"),
        (torch.zeros(0, 3, dtype=torch.long), "empty batch"),
        (torch.tensor([[5, PAD, 6]]), "right-padded"),
    ],
)
def test_teacher_forcing_bad_input(bad, message):
    with pytest.raises(CourseLibError, match=message.replace("(", r"\(").replace(")", r"\)")):
        teacher_forcing(bad)


# ----------------------------------------------------------------------------------------
# the held-out (validation) loss
# ----------------------------------------------------------------------------------------


def test_heldout_loss_is_the_training_loss_without_dropout():
    src_tok, tgt_tok = tokenizers()
    model = tiny_model(src_tok, tgt_tok, dropout=0.3)
    data = encode_pairs(PAIRS, src_tok, tgt_tok)
    model.train()
    loss = heldout_loss(model, data, 0.1, batch_size=5)  # three batches, sorted by length
    assert model.training, "the model's mode is restored"
    src, tgt = data.batch(range(len(data)))
    decoder_input, labels = teacher_forcing(tgt)
    with torch.no_grad():
        expected = label_smoothed_cross_entropy(model.eval()(src, decoder_input), labels, 0.1)
    assert loss == pytest.approx(float(expected), rel=1e-5)


def test_heldout_loss_bad_input():
    src_tok, tgt_tok = tokenizers()
    model = tiny_model(src_tok, tgt_tok)
    with pytest.raises(CourseLibError, match="EncodedPairs"):
        heldout_loss(model, PAIRS, 0.1)
    with pytest.raises(CourseLibError, match="batch_size"):
        heldout_loss(model, encode_pairs(PAIRS, src_tok, tgt_tok), 0.1, batch_size=0)
