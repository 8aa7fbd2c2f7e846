"""Step 6a: what training minimises - teacher forcing and the label-smoothed loss.

    English ids ----------------------------> encoder --+
    <start> J' aime la pizza  (decoder input) -> decoder --> logits --+
            J' aime la pizza <end>  (labels) ---------------------------> loss -> backward

During training the decoder is shown the *correct* previous words (teacher forcing), so
every position of a sentence is trained in one parallel pass. The loss is cross-entropy
with label smoothing (Szegedy et al. 2016; Vaswani et al. 2017, section 5.4), averaged over
real (non-padding) tokens. :func:`heldout_loss` is the same loss on held-out pairs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.batching import EncodedPairs
from course_lib.errors import CourseLibError, ShapeError
from course_lib.tokenize import END, PAD, START


def teacher_forcing(
    tgt: torch.Tensor, start_id: int = START, end_id: int = END, pad_id: int = PAD
) -> tuple[torch.Tensor, torch.Tensor]:
    """Decoder input and labels for teacher forcing.

    ``tgt`` holds the target sentences WITHOUT ``<start>``/``<end>``, right-padded with
    ``pad_id``: shape ``(batch, tgt_len)``. Returns two ``(batch, tgt_len + 1)`` tensors:

    * decoder input = ``<start>`` + target   (what the decoder reads), and
    * labels        = target + ``<end>``     (what it must predict at each position),

    so labels are the decoder input shifted left by one. ``<end>`` goes right after each
    row's last real token; padding stays padding::

        tgt            [[ J' aime  la   pizza], [ Je  mange  <pad> <pad>]]
        decoder input  [[<s> J'    aime la  pizza], [<s> Je   mange <pad> <pad>]]
        labels         [[J'  aime  la   pizza <e>], [Je  mange <e>  <pad> <pad>]]
    """
    if not isinstance(tgt, torch.Tensor):
        raise ShapeError(f"teacher_forcing: tgt must be a tensor, got {type(tgt).__name__}")
    if tgt.dim() != 2:
        raise ShapeError(
            f"teacher_forcing: tgt must have shape (batch, tgt_len), got {tuple(tgt.shape)}"
        )
    if tgt.dtype not in (torch.int64, torch.int32):
        raise ShapeError(f"teacher_forcing: tgt must hold integer token ids, got {tgt.dtype}")
    if tgt.size(0) == 0:
        raise ShapeError(f"teacher_forcing: tgt is an empty batch, shape {tuple(tgt.shape)}")
    real = tgt != pad_id  # (batch, tgt_len)
    lengths = real.sum(dim=1)  # (batch,)
    positions = torch.arange(tgt.size(1), device=tgt.device)
    if bool((real != (positions[None, :] < lengths[:, None])).any()):
        row = int((real != (positions[None, :] < lengths[:, None])).any(dim=1).nonzero()[0])
        raise CourseLibError(
            f"teacher_forcing: tgt row {row} has padding before a real token; targets must "
            f"be right-padded ({tgt[row].tolist()})"
        )
    batch = tgt.size(0)
    starts = torch.full((batch, 1), start_id, dtype=tgt.dtype, device=tgt.device)
    decoder_input = torch.cat([starts, tgt], dim=1)
    pads = torch.full((batch, 1), pad_id, dtype=tgt.dtype, device=tgt.device)
    labels = torch.cat([tgt, pads], dim=1)
    labels[torch.arange(batch, device=tgt.device), lengths] = end_id
    return decoder_input, labels


# ----------------------------------------------------------------------------------------
# The loss: cross-entropy with label smoothing, ignoring padding
# ----------------------------------------------------------------------------------------


def label_smoothed_cross_entropy(
    logits: torch.Tensor,
    labels: torch.Tensor,
    smoothing: float = 0.1,
    ignore_index: int = PAD,
    reduction: str = "mean",
) -> torch.Tensor:
    """Cross-entropy against a smoothed target distribution, skipping padding.

    The target for a token whose correct class is ``y`` is
    ``q = (1 - smoothing) * onehot(y) + smoothing / V`` over all ``V`` classes (the
    uniform mixture of Szegedy et al. 2016, as in ``F.cross_entropy(label_smoothing=...)``),
    so the per-token loss is ``(1 - smoothing) * -log p_y + smoothing * mean_k(-log p_k)``.

    Args:
        logits: ``(..., V)`` scores (any float dtype; computed in float32).
        labels: ``(...)`` integer class ids; positions equal to ``ignore_index`` are skipped.
        smoothing: in ``[0, 1]``; 0 is plain cross-entropy, 1 a uniform target.
        ignore_index: the padding id (default ``PAD`` = 0).
        reduction: ``"mean"`` over non-ignored tokens, ``"sum"``, or ``"none"`` (shape of
            ``labels``, zeros at ignored positions).

    Equal to ``F.cross_entropy(logits, labels, ignore_index=..., label_smoothing=...)``, value
    and gradient, wherever that is finite, extreme finite logits included: log-probabilities
    come from ``log_softmax`` (``x - logsumexp(x)``, exact in log space), and nothing is
    clamped, so a token the model gives a log-probability of -20,000 costs 20,000 and keeps
    its full gradient. Where they differ, ours stays usable:

    * **All padding** (no real token): mean loss **0**, still attached to the graph, so
      ``backward()`` works and gives zero gradients (``F.cross_entropy`` gives ``nan``, 0/0).
    * **A class with log-probability -inf** (a logit of ``-inf``: a class masked out) gets no
      smoothing mass: the uniform part is spread over the ``V'`` classes that remain,
      ``smoothing * mean_{k allowed}(-log p_k)``, the cross-entropy against a target that puts
      nothing on an impossible class. ``F.cross_entropy`` returns ``inf`` there
      (``smoothing / V * -log 0``). Gradients stay finite.
    * The one infinite case is honest: if the **correct** class has logit ``-inf``, the model
      rules out the right answer and the loss is ``inf`` (as in ``F.cross_entropy``); the
      gradients are still finite.
    * Ignored positions are ignored in the gradient too: whatever their logits hold
      (``nan``, ``±inf``), they contribute exactly 0. NaN logits at a real token (a
      diverged model) give NaN; ``V = 1`` gives 0 (nothing to predict); ``V = 2`` works like
      any other size (no ``V - 2`` division).
    """
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        what = logits.dtype if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ShapeError(f"label_smoothed_cross_entropy: logits must be a float tensor, got {what}")
    if not isinstance(labels, torch.Tensor) or labels.dtype not in (torch.int64, torch.int32):
        what = labels.dtype if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ShapeError(
            f"label_smoothed_cross_entropy: labels must be an integer tensor, got {what}"
        )
    if logits.dim() < 1 or logits.shape[:-1] != labels.shape:
        raise ShapeError(
            f"label_smoothed_cross_entropy: logits (..., V) and labels (...) must share their "
            f"leading shape, got logits {tuple(logits.shape)} and labels {tuple(labels.shape)}"
        )
    vocab = logits.size(-1)
    if vocab < 1:
        raise ShapeError("label_smoothed_cross_entropy: logits have an empty class dimension")
    if isinstance(smoothing, bool) or not isinstance(smoothing, (int, float)):
        raise CourseLibError(f"smoothing must be a number in [0, 1], got {smoothing!r}")
    if not 0.0 <= smoothing <= 1.0:
        raise CourseLibError(f"smoothing must be in [0, 1], got {smoothing}")
    if reduction not in ("mean", "sum", "none"):
        raise CourseLibError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    keep = labels != ignore_index
    if labels.numel() and bool(keep.any()):
        real = labels[keep]
        low, high = int(real.min()), int(real.max())
        if low < 0 or high >= vocab:
            raise CourseLibError(
                f"label_smoothed_cross_entropy: label {low if low < 0 else high} is outside "
                f"the {vocab} classes of the logits (mismatched vocabulary?)"
            )
    # Ignored positions get logits 0, so nothing they hold (nan, inf) reaches the gradient.
    logits = logits.float().masked_fill(~keep.unsqueeze(-1), 0.0)
    log_probs = F.log_softmax(logits, dim=-1)  # exact in log space, even for huge logits
    safe_labels = labels.masked_fill(~keep, 0).long()
    nll = -log_probs.gather(-1, safe_labels.unsqueeze(-1)).squeeze(-1)
    if smoothing > 0:
        # The uniform part averages -log p_k over the classes that are possible at all: a
        # class with log-probability -inf (logit -inf) gets no smoothing mass. Without such
        # classes this is the plain mean over all V classes, as in F.cross_entropy.
        impossible = torch.isneginf(log_probs)
        allowed = (vocab - impossible.sum(dim=-1)).clamp(min=1)
        uniform = -log_probs.masked_fill(impossible, 0.0).sum(dim=-1) / allowed
        if smoothing < 1.0:
            per_token = (1.0 - smoothing) * nll + smoothing * uniform
        else:  # a uniform target: -log p_y plays no part (not even 0 * inf)
            per_token = uniform
    else:
        per_token = nll
    per_token = torch.where(keep, per_token, torch.zeros_like(per_token))
    if reduction == "none":
        return per_token
    total = per_token.sum()
    if reduction == "sum":
        return total
    return total / keep.sum().clamp(min=1)


class LabelSmoothingLoss(nn.Module):
    """Module form of :func:`label_smoothed_cross_entropy` (mean over non-padding tokens).

    Shapes: logits ``(batch, tgt_len, V)``, labels ``(batch, tgt_len)`` -> scalar.
    """

    def __init__(self, smoothing: float = 0.1, ignore_index: int = PAD, reduction: str = "mean"):
        super().__init__()
        if isinstance(smoothing, bool) or not isinstance(smoothing, (int, float)):
            raise CourseLibError(f"smoothing must be a number in [0, 1], got {smoothing!r}")
        if not 0.0 <= smoothing <= 1.0:
            raise CourseLibError(f"smoothing must be in [0, 1], got {smoothing}")
        self.smoothing = float(smoothing)
        self.ignore_index = ignore_index
        self.reduction = reduction

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return label_smoothed_cross_entropy(
            logits, labels, self.smoothing, self.ignore_index, self.reduction
        )

    def extra_repr(self) -> str:
        return f"smoothing={self.smoothing}, ignore_index={self.ignore_index}"


@torch.no_grad()
def heldout_loss(
    model: nn.Module,
    data: EncodedPairs,
    smoothing: float = 0.1,
    *,
    batch_size: int = 256,
    device: torch.device | str | None = None,
) -> float:
    """The teacher-forced, label-smoothed loss per real token of ``model`` on ``data``
    (as in training, without dropout): the validation loss.

    ``data`` holds ``n`` encoded pairs; they are batched ``batch_size`` at a time in order of
    source length (little padding), each batch ``(batch, src_len)`` / ``(batch, tgt_len)``.
    """
    if not isinstance(data, EncodedPairs):
        raise CourseLibError(
            f"heldout_loss: data must be EncodedPairs (encode_pairs), got {type(data).__name__}"
        )
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise CourseLibError(f"heldout_loss: batch_size must be an int >= 1, got {batch_size!r}")
    was_training = model.training
    model.eval()
    device = torch.device(device) if device is not None else next(model.parameters()).device
    order = sorted(range(len(data)), key=lambda i: len(data.src[i]))  # similar lengths together
    total_loss, total_tokens = 0.0, 0
    for begin in range(0, len(order), batch_size):
        src, tgt = data.batch(order[begin : begin + batch_size])
        decoder_input, labels = teacher_forcing(tgt.to(device))
        logits = model(src.to(device), decoder_input)  # (batch, tgt_len + 1, V)
        total_loss += float(
            label_smoothed_cross_entropy(logits, labels, smoothing, reduction="sum")
        )
        total_tokens += int((labels != PAD).sum())
    model.train(was_training)
    return total_loss / max(total_tokens, 1)


__all__ = ["LabelSmoothingLoss", "heldout_loss", "label_smoothed_cross_entropy", "teacher_forcing"]
