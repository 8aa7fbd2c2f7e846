"""Step 6: training - teacher forcing, a label-smoothed loss, the warm-up schedule, the loop.

    English ids ----------------------------> encoder --+
    <start> J' aime la pizza  (decoder input) -> decoder --> logits --+
            J' aime la pizza <end>  (labels) ---------------------------> loss -> backward

During training the decoder is shown the *correct* previous words (teacher forcing), so
every position of a sentence is trained in one parallel pass. The loss is cross-entropy
with label smoothing (Szegedy et al. 2016; Vaswani et al. 2017, section 5.4), averaged over
real (non-padding) tokens; Adam follows the paper's warm-up + inverse-square-root schedule.

:class:`Trainer` runs the loop: seeded, resumable batches (bucketed by length so there is
little padding), gradient clipping, mixed precision on a GPU, periodic validation (loss,
exact match, BLEU/chrF with sacrebleu), a tqdm progress bar, an optional live loss plot in
notebooks, checkpoints, a time or step budget, and ``torchrun`` multi-process training
(see :mod:`course_lib.distributed`).
"""

from __future__ import annotations

import json
import math
import random
import signal
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.batching import bucketed_batches
from course_lib.errors import CourseLibError, ShapeError

PAD, START, END, UNK = 0, 1, 2, 3

# ----------------------------------------------------------------------------------------
# Teacher forcing
# ----------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------
# The optimiser and the paper's learning-rate schedule
# ----------------------------------------------------------------------------------------


def noam_schedule(step: int, d_model: int, warmup_steps: int = 4000, scale: float = 1.0) -> float:
    """The paper's learning rate (Vaswani et al. 2017, eq. 3) at optimiser step ``step`` >= 1:

        lrate = scale * d_model^-0.5 * min(step^-0.5, step * warmup_steps^-1.5)

    It rises linearly for ``warmup_steps`` steps, peaks at
    ``scale * (d_model * warmup_steps)^-0.5``, then decays as ``1 / sqrt(step)``.
    """
    for name, value in (("step", step), ("d_model", d_model), ("warmup_steps", warmup_steps)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise CourseLibError(f"noam_schedule: {name} must be an integer >= 1, got {value!r}")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
        raise CourseLibError(f"noam_schedule: scale must be a positive number, got {scale!r}")
    return scale * d_model**-0.5 * min(step**-0.5, step * warmup_steps**-1.5)


class WarmupInverseSqrtSchedule(torch.optim.lr_scheduler.LRScheduler):
    """:func:`noam_schedule` as a PyTorch scheduler: call ``step()`` after each optimiser step.

    The first optimiser step uses the rate for step 1 (never 0). The optimiser's own
    ``lr`` is ignored: the schedule sets it. ``state_dict()`` is plain data.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        d_model: int,
        warmup_steps: int = 4000,
        scale: float = 1.0,
        last_epoch: int = -1,
    ):
        noam_schedule(1, d_model, warmup_steps, scale)  # validates the arguments
        self.d_model = d_model
        self.warmup_steps = warmup_steps
        self.scale = float(scale)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        rate = noam_schedule(self.last_epoch + 1, self.d_model, self.warmup_steps, self.scale)
        return [rate for _ in self.optimizer.param_groups]


def make_optimizer(model: nn.Module) -> torch.optim.Adam:
    """Adam with the paper's settings: betas (0.9, 0.98), eps 1e-9 (the schedule sets lr)."""
    if not isinstance(model, nn.Module):
        raise CourseLibError(f"make_optimizer needs an nn.Module, got {type(model).__name__}")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise CourseLibError("make_optimizer: the model has no trainable parameters")
    return torch.optim.Adam(params, lr=1.0, betas=(0.9, 0.98), eps=1e-9)


# ----------------------------------------------------------------------------------------
# Seeds, devices, precision
# ----------------------------------------------------------------------------------------


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy (if installed) and torch (CPU and every GPU)."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise CourseLibError(f"seed must be an integer, got {seed!r}")
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass


def select_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA, then Apple's MPS, then the CPU; ``"cuda"``, ``"mps"``,
    ``"cpu"`` (or ``"cuda:1"``) are checked to exist."""
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise CourseLibError(
            f"device must be 'auto', 'cpu', 'cuda' or 'mps', got {type(device).__name__}"
        )
    mps = getattr(torch.backends, "mps", None)
    mps_ok = bool(mps is not None and mps.is_available())
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if mps_ok else torch.device("cpu")
    kind = device.split(":")[0]
    if kind == "cpu":
        return torch.device("cpu")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise CourseLibError(
                f"device {device!r} requested but CUDA is not available "
                f"(torch {torch.__version__}); use --device cpu or auto"
            )
        return torch.device(device)
    if kind == "mps":
        if not mps_ok:
            raise CourseLibError(
                "device 'mps' requested but Apple's MPS backend is not available here; "
                "use --device cpu or auto"
            )
        return torch.device("mps")
    raise CourseLibError(f"device must be 'auto', 'cpu', 'cuda' or 'mps', got {device!r}")


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype: ``"auto"`` is bf16 on a GPU that supports it, else fp16 on CUDA,
    and full float32 (None) on the CPU and MPS. ``"fp32"``, ``"bf16"``, ``"fp16"`` force it."""
    options = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
    if precision == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if precision not in options:
        raise CourseLibError(f"precision must be auto, fp32, bf16 or fp16, got {precision!r}")
    if precision == "fp16" and device.type == "cpu":
        raise CourseLibError("precision fp16 needs a GPU; use fp32 or bf16 on the CPU")
    return options[precision]


# ----------------------------------------------------------------------------------------
# Data: encoded pairs and seeded, resumable, length-bucketed batches
# ----------------------------------------------------------------------------------------


@dataclass
class EncodedPairs:
    """Sentence pairs as token id lists (no ``<start>``/``<end>``), ready for batching."""

    src: list[list[int]]
    tgt: list[list[int]]
    pairs: list[tuple[str, str]]

    def __len__(self) -> int:
        return len(self.src)

    def batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-padded ``(src, tgt)``, shapes ``(len(indices), max_src)``, ``(.., max_tgt)``."""
        return _pad([self.src[i] for i in indices]), _pad([self.tgt[i] for i in indices])


def _pad(rows: list[list[int]]) -> torch.Tensor:
    width = max(1, max(len(r) for r in rows))
    out = torch.full((len(rows), width), PAD, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return out


def encode_pairs(
    pairs: Sequence[tuple[str, str]],
    src_tokenizer: Any,
    tgt_tokenizer: Any,
    max_len: int | None = None,
    name: str = "pairs",
) -> EncodedPairs:
    """Tokenise ``(english, french)`` pairs once. Pairs whose source has more than
    ``max_len`` tokens, or whose target needs more than ``max_len`` positions with
    ``<start>``, are left out (they would not fit the model's positions)."""
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Sequence):
        raise CourseLibError(f"{name} must be a list of (english, french) pairs")
    if len(pairs) == 0:
        raise CourseLibError(f"{name} is empty: no sentence pairs to train or evaluate on")
    src, tgt, kept = [], [], []
    for i, pair in enumerate(pairs):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise CourseLibError(f"{name}[{i}] must be an (english, french) pair, got {pair!r:.60}")
        s = list(src_tokenizer.encode(pair[0]))
        t = list(tgt_tokenizer.encode(pair[1]))
        if max_len is not None and (len(s) > max_len or len(t) + 1 > max_len):
            continue
        src.append(s)
        tgt.append(t)
        kept.append((pair[0], pair[1]))
    if not src:
        raise CourseLibError(f"{name}: every pair is longer than max_len={max_len} tokens")
    return EncodedPairs(src, tgt, kept)


# ----------------------------------------------------------------------------------------
# Validation: loss, greedy translations, exact match, BLEU/chrF
# ----------------------------------------------------------------------------------------


def _strip(ids: Sequence[int]) -> list[int]:
    out = []
    for token in ids:
        token = int(token)
        if token in (END, PAD):
            break
        if token != START:
            out.append(token)
    return out


@torch.no_grad()
def _simple_greedy(model: nn.Module, src: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
    """Greedy decoding with the key/value cache; ``(batch, n)`` ids, PAD after ``<end>``."""
    memory = model.encode(src)
    src_mask = (src != model.config.pad_id)[:, None, None, :]
    cache = model.new_cache()
    token = torch.full((src.size(0), 1), START, dtype=torch.long, device=src.device)
    done = torch.zeros(src.size(0), dtype=torch.bool, device=src.device)
    out = []
    for t in range(max_new_tokens):
        logits = model.decode(token, memory, src_mask, cache=cache, start=t)
        nxt = logits[:, -1].argmax(dim=-1).masked_fill(done, PAD)
        out.append(nxt)
        done |= nxt == END
        if bool(done.all()):
            break
        token = nxt[:, None]
    return torch.stack(out, dim=1)


def greedy_tokens(model: nn.Module, src: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
    """Greedy translations ``(batch, n)`` of ``src`` ``(batch, src_len)``.

    Uses :func:`course_lib.generate.greedy_decode` (chapter 5) when available, else a
    minimal cached greedy loop with the same result.
    """
    try:
        from course_lib.generate import greedy_decode
    except ImportError:
        return _simple_greedy(model, src, max_new_tokens)
    return greedy_decode(model, src, max_new_tokens=max_new_tokens).tokens


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: EncodedPairs,
    tgt_tokenizer: Any,
    *,
    batch_size: int = 256,
    smoothing: float = 0.1,
    translate: bool = True,
    max_sentences: int | None = None,
    device: torch.device | str | None = None,
) -> dict[str, float]:
    """Validation scores on (the first ``max_sentences`` pairs of) ``data``.

    * ``loss``: teacher-forced, label-smoothed loss per real token (as in training);
    * with ``translate``, each distinct source sentence is translated greedily once and
      scored against ALL its references (an English sentence repeated with several French
      translations): ``exact_match`` (0-1: the generated ids equal one reference's ids; a
      reference with an unknown word never matches), ``bleu`` and ``chrf`` (sacrebleu,
      0-100), and ``n``, the number of distinct sources.
    """
    import sacrebleu

    if not isinstance(data, EncodedPairs):
        raise CourseLibError(
            f"evaluate: data must be EncodedPairs (encode_pairs), got {type(data).__name__}"
        )
    was_training = model.training
    model.eval()
    device = torch.device(device) if device is not None else next(model.parameters()).device
    n = len(data) if max_sentences is None else min(len(data), max_sentences)
    order = sorted(range(n), key=lambda i: len(data.src[i]))  # similar lengths: little padding
    total_loss, total_tokens = 0.0, 0
    for begin in range(0, n, batch_size):
        src, tgt = data.batch(order[begin : begin + batch_size])
        decoder_input, labels = teacher_forcing(tgt.to(device))
        logits = model(src.to(device), decoder_input)
        total_loss += float(
            label_smoothed_cross_entropy(logits, labels, smoothing, reduction="sum")
        )
        total_tokens += int((labels != PAD).sum())
    result: dict[str, float] = {"loss": total_loss / max(total_tokens, 1)}
    if translate:
        groups: dict[str, list[int]] = {}
        for i in range(n):
            groups.setdefault(data.pairs[i][0], []).append(i)
        firsts = sorted((members[0] for members in groups.values()), key=lambda i: len(data.src[i]))
        hypotheses: dict[str, tuple[list[int], str]] = {}
        for begin in range(0, len(firsts), batch_size):
            idx = firsts[begin : begin + batch_size]
            src = _pad([data.src[i] for i in idx]).to(device)
            budget = min(model.config.max_len, 2 * src.size(1) + 10)
            generated = greedy_tokens(model, src, budget).cpu()
            for row, i in enumerate(idx):
                ids = _strip(generated[row].tolist())
                hypotheses[data.pairs[i][0]] = (ids, tgt_tokenizer.decode(ids))
        exact, hyps, refs = 0, [], []
        for source, members in groups.items():
            ids, text = hypotheses[source]
            exact += int(any(ids == data.tgt[i] and UNK not in data.tgt[i] for i in members))
            hyps.append(text)
            refs.append(list(dict.fromkeys(data.pairs[i][1] for i in members)))
        width = max(len(r) for r in refs)
        streams = [[r[k] if k < len(r) else None for r in refs] for k in range(width)]
        result["exact_match"] = exact / len(groups)
        result["bleu"] = sacrebleu.corpus_bleu(hyps, streams).score
        result["chrf"] = sacrebleu.corpus_chrf(hyps, streams).score
        result["n"] = len(groups)
    model.train(was_training)
    return result


# ----------------------------------------------------------------------------------------
# The training loop
# ----------------------------------------------------------------------------------------


@dataclass
class TrainSettings:
    """Everything about *how* to train (the model's sizes live in ``TransformerConfig``).

    The defaults are the course's recipe for a d_model-128 pre-norm model (warm-up 100
    steps, ``lr_scale`` 0.5 on the paper's schedule, label smoothing 0.1, clipping at 1).

    Budgets: training stops at ``max_steps`` optimiser steps or after ``max_minutes`` of
    training time (validation time not counted), whichever comes first; at least one must
    be set. ``target_exact_match`` (0-1) also stops once validation reaches it.

    Validation (loss, greedy exact match, BLEU, chrF on up to ``eval_sentences`` pairs)
    runs every ``eval_every`` steps and at the end. A trainer with an ``out_dir`` writes
    ``checkpoint.pt`` every ``checkpoint_every`` steps (None: after each validation), at the
    end and on Ctrl-C. ``precision`` ``"auto"`` uses bfloat16 (or float16 with loss scaling)
    autocast on CUDA and float32 elsewhere; ``device`` ``"auto"`` picks CUDA, MPS or the CPU.
    """

    batch_size: int = 64
    max_steps: int | None = None
    max_minutes: float | None = None
    warmup_steps: int = 100
    lr_scale: float = 0.5
    label_smoothing: float = 0.1
    clip_norm: float | None = 1.0
    eval_every: int = 100
    eval_sentences: int | None = 500
    target_exact_match: float | None = None
    log_every: int = 10
    checkpoint_every: int | None = None
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    progress: bool = True
    live_plot: bool = False

    def __post_init__(self) -> None:
        positive_ints = ("batch_size", "warmup_steps", "eval_every", "log_every")
        for name in positive_ints:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise CourseLibError(
                    f"training setting {name} must be an integer >= 1, got {value!r}"
                )
        for name in ("max_steps", "checkpoint_every", "eval_sentences"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise CourseLibError(
                    f"training setting {name} must be an integer >= 1 or None, got {value!r}"
                )
        if self.max_minutes is not None and not (
            isinstance(self.max_minutes, (int, float)) and self.max_minutes > 0
        ):
            raise CourseLibError(f"max_minutes must be a positive number, got {self.max_minutes!r}")
        if self.max_steps is None and self.max_minutes is None:
            raise CourseLibError("set a training budget: max_steps, max_minutes or both")
        if not (isinstance(self.lr_scale, (int, float)) and self.lr_scale > 0):
            raise CourseLibError(f"lr_scale must be a positive number, got {self.lr_scale!r}")
        if not (isinstance(self.label_smoothing, (int, float)) and 0 <= self.label_smoothing <= 1):
            raise CourseLibError(f"label_smoothing must be in [0, 1], got {self.label_smoothing!r}")
        if self.clip_norm is not None and not self.clip_norm > 0:
            raise CourseLibError(f"clip_norm must be positive or None, got {self.clip_norm!r}")
        if self.target_exact_match is not None and not 0 < self.target_exact_match <= 1:
            raise CourseLibError(
                f"target_exact_match must be in (0, 1], got {self.target_exact_match!r}"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise CourseLibError(f"seed must be an integer, got {self.seed!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainSettings:
        if not isinstance(data, dict):
            raise CourseLibError(f"training settings must be a dict, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise CourseLibError(f"unknown training settings: {', '.join(unknown)}")
        return cls(**data)


@dataclass
class History:
    """What happened: training loss per logged step, validation results, and why it stopped."""

    train: list[dict[str, float]] = field(default_factory=list)
    valid: list[dict[str, float]] = field(default_factory=list)
    stopped: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"train": list(self.train), "valid": list(self.valid), "stopped": self.stopped}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        return cls(
            list(data.get("train", [])), list(data.get("valid", [])), data.get("stopped", "")
        )

    def plot(self, ax: Any = None) -> Any:
        """Training and validation loss against the step (a matplotlib Axes)."""
        return _plot_history(self, ax)


def _plot_history(history: History, ax: Any = None) -> Any:
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    if history.train:
        ax.plot(
            [h["step"] for h in history.train],
            [h["loss"] for h in history.train],
            label="training loss",
            lw=1,
            color="#0072B2",  # Okabe-Ito blue
        )
    if history.valid:
        ax.plot(
            [h["step"] for h in history.valid],
            [h["loss"] for h in history.valid],
            "o-",
            label="validation loss",
            color="#D55E00",  # Okabe-Ito vermillion
        )
    ax.set_xlabel("step")
    ax.set_ylabel("loss (label-smoothed, per token)")
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3)
    return ax


class _LivePlot:
    """A loss plot redrawn in place in a notebook (IPython ``display`` with a display id)."""

    def __init__(self) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import display

        self.figure, self.ax = plt.subplots(figsize=(6, 3.5))
        plt.close(self.figure)
        self.handle = display(self.figure, display_id=True)

    def update(self, history: History) -> None:
        self.ax.clear()
        _plot_history(history, self.ax)
        if self.handle is not None:
            self.handle.update(self.figure)


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        return False
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


@contextmanager
def _stop_on_sigint(flag: dict[str, bool]):
    """While training, the first Ctrl-C (SIGINT) asks the loop to stop after the current
    step (it then saves a checkpoint); a second one interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if flag.get("stop"):
            raise KeyboardInterrupt
        flag["stop"] = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class Trainer:
    """Trains a :class:`~course_lib.model.Transformer` on sentence pairs.

    Args:
        model: the model (moved to the chosen device).
        src_tokenizer, tgt_tokenizer: fitted English and French tokenizers.
        train_pairs: ``(english, french)`` pairs to learn from.
        valid_pairs: pairs for periodic validation (optional).
        settings: a :class:`TrainSettings`.
        out_dir: where ``checkpoint.pt`` is written (periodically, at the end, on Ctrl-C);
            None writes nothing.
        context: a :class:`course_lib.distributed.DistributedContext` for ``torchrun``
            runs (None: a single process).
        on_validation: called with each validation record (e.g. to print it).
        on_start: called (no arguments) when the loop starts, once Ctrl-C is handled.

    ``fit()`` trains until a budget is spent and returns a :class:`History`. Training is
    deterministic for a seed on one machine, and resumable: ``Trainer.resume(path, ...)``
    restores weights, optimiser, schedule, random-number generators and the position in
    the data, so N steps + resume + N steps equals 2N steps.
    """

    #: Batches per length-sorted pool in :func:`bucketed_batches`; 1 = random batches
    #: (no bucketing), used by the benchmarks to measure what bucketing is worth.
    pool_batches: int = 50

    def __init__(
        self,
        model: nn.Module,
        src_tokenizer: Any,
        tgt_tokenizer: Any,
        train_pairs: Sequence[tuple[str, str]] | EncodedPairs,
        valid_pairs: Sequence[tuple[str, str]] | EncodedPairs | None = None,
        settings: TrainSettings | None = None,
        out_dir: str | Path | None = None,
        context: Any = None,
        on_validation: Callable[[dict[str, float]], None] | None = None,
        on_start: Callable[[], None] | None = None,
        metadata: dict[str, Any] | None = None,
    ):
        from course_lib.model import Transformer

        if not isinstance(model, Transformer):
            raise CourseLibError(
                f"Trainer needs a course_lib Transformer, got {type(model).__name__}"
            )
        self.settings = settings if settings is not None else TrainSettings(max_steps=1000)
        if not isinstance(self.settings, TrainSettings):
            raise CourseLibError(f"settings must be TrainSettings, got {type(settings).__name__}")
        from course_lib.distributed import DistributedContext

        self.context = (
            context
            if context is not None
            else DistributedContext.single(select_device(self.settings.device))
        )
        self.device = self.context.device
        self.model = model.to(self.device)
        self.config = model.config
        self.src_tokenizer = src_tokenizer
        self.tgt_tokenizer = tgt_tokenizer
        max_len = self.config.max_len
        self.train_data = (
            train_pairs
            if isinstance(train_pairs, EncodedPairs)
            else encode_pairs(train_pairs, src_tokenizer, tgt_tokenizer, max_len, "train_pairs")
        )
        self.valid_data = (
            valid_pairs
            if isinstance(valid_pairs, EncodedPairs) or valid_pairs is None
            else encode_pairs(valid_pairs, src_tokenizer, tgt_tokenizer, max_len, "valid_pairs")
        )
        if self.settings.batch_size % self.context.world_size != 0:
            raise CourseLibError(
                f"batch_size {self.settings.batch_size} must be divisible by the number of "
                f"processes ({self.context.world_size})"
            )
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.on_validation = on_validation
        self.on_start = on_start
        self.metadata = dict(metadata or {})
        self.optimizer = make_optimizer(self.model)
        self.scheduler = WarmupInverseSqrtSchedule(
            self.optimizer, self.config.d_model, self.settings.warmup_steps, self.settings.lr_scale
        )
        self.autocast_dtype = resolve_precision(self.settings.precision, self.device)
        self.scaler = torch.amp.GradScaler(
            "cuda", enabled=self.autocast_dtype == torch.float16 and self.device.type == "cuda"
        )
        self.ddp_model = self.context.wrap(self.model)
        self.step = 0
        self.epoch = 0
        self.batch_index = 0  # position inside the current epoch's batches
        self.train_seconds = 0.0
        self.history = History()
        self._src_lengths = [len(s) for s in self.train_data.src]
        self._tgt_lengths = [len(t) for t in self.train_data.tgt]
        self._epoch_batches: list[list[int]] | None = None
        self._rng_to_restore: dict[str, Any] | None = None
        self._validated_at = -1

    # -- state for checkpoints ------------------------------------------------------------

    def training_state(self) -> dict[str, Any]:
        """Plain data describing where training is (for :func:`save_checkpoint`)."""
        return {
            "step": self.step,
            "epoch": self.epoch,
            "batch_index": self.batch_index,
            "train_seconds": self.train_seconds,
            "settings": self.settings.to_dict(),
            "history": self.history.to_dict(),
        }

    def save(self, path: str | Path | None = None) -> Path | None:
        """Write a full checkpoint (rank 0 only); returns its path."""
        from course_lib.checkpoint import save_checkpoint

        if path is None:
            if self.out_dir is None:
                return None
            path = self.out_dir / "checkpoint.pt"
        if not self.context.is_main:
            return None
        last_valid = self.history.valid[-1] if self.history.valid else {}
        return save_checkpoint(
            path,
            self.model,
            src_tokenizer=self.src_tokenizer,
            tgt_tokenizer=self.tgt_tokenizer,
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            scaler=self.scaler if self.scaler.is_enabled() else None,
            training=self.training_state(),
            metrics=dict(last_valid),
            metadata=self.metadata,
        )

    def load_state(self, checkpoint: Any) -> None:
        """Continue from a loaded checkpoint (``load_checkpoint(path)``): weights, optimiser,
        schedule, data position and random-number generator states."""
        from course_lib.checkpoint import restore_training_state

        self.model.load_state_dict(checkpoint.model.state_dict())
        training = restore_training_state(checkpoint, self.optimizer, self.scheduler, self.scaler)
        self.step = int(training.get("step", 0))
        self.epoch = int(training.get("epoch", 0))
        self.batch_index = int(training.get("batch_index", 0))
        self.train_seconds = float(training.get("train_seconds", 0.0))
        self.history = History.from_dict(training.get("history", {}))
        self._epoch_batches = None
        self._rng_to_restore = checkpoint.rng

    @classmethod
    def resume(cls, path: str | Path, *args: Any, **kwargs: Any) -> Trainer:
        """Build a trainer from a checkpoint: ``Trainer.resume(path, train_pairs=...,
        valid_pairs=..., settings=...)``; the model and tokenizers come from the checkpoint."""
        from course_lib.checkpoint import load_checkpoint

        checkpoint = load_checkpoint(path, device="cpu")
        model = checkpoint.model
        model.train()
        trainer = cls(model, checkpoint.src_tokenizer, checkpoint.tgt_tokenizer, *args, **kwargs)
        trainer.load_state(checkpoint)
        return trainer

    # -- one step ---------------------------------------------------------------------------

    def _next_batch(self) -> list[int]:
        while True:
            if self._epoch_batches is None:
                self._epoch_batches = bucketed_batches(
                    self._src_lengths,
                    self._tgt_lengths,
                    self.settings.batch_size,
                    self.settings.seed,
                    self.epoch,
                    self.pool_batches,
                )
            if self.batch_index < len(self._epoch_batches):
                batch = self._epoch_batches[self.batch_index]
                self.batch_index += 1
                return batch
            self.epoch += 1
            self.batch_index = 0
            self._epoch_batches = None

    def train_step(self, indices: Sequence[int]) -> float:
        """One optimiser step on the pairs ``indices`` (the global batch; each process takes
        its share). Returns the batch's mean loss per real token (over all processes)."""
        from course_lib.distributed import shard

        context = self.context
        local = shard(list(indices), context.rank, context.world_size)
        src, tgt = self.train_data.batch(local)
        src, tgt = src.to(self.device), tgt.to(self.device)
        decoder_input, labels = teacher_forcing(tgt)
        local_tokens = (labels != PAD).sum()
        global_tokens = context.all_reduce_sum(local_tokens.detach().double())
        self.optimizer.zero_grad(set_to_none=True)
        autocast = (
            torch.autocast(self.device.type, dtype=self.autocast_dtype)
            if self.autocast_dtype is not None
            else nullcontext()
        )
        with autocast:
            logits = self.ddp_model(src, decoder_input)
        loss_sum = label_smoothed_cross_entropy(
            logits, labels, self.settings.label_smoothing, reduction="sum"
        )
        # Each process divides by the GLOBAL token count; DDP averages gradients over the
        # processes, so multiplying by world_size gives exactly the one-process gradient.
        loss = loss_sum * (context.world_size / global_tokens.clamp(min=1).to(loss_sum.dtype))
        self.scaler.scale(loss).backward()
        if self.settings.clip_norm is not None:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.settings.clip_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.step += 1
        total = context.all_reduce_sum(loss_sum.detach().double())
        value = float(total / global_tokens.clamp(min=1))
        if not math.isfinite(value):
            raise CourseLibError(
                f"the training loss became {value} at step {self.step}; lower the learning "
                f"rate (lr_scale) or check the data"
            )
        return value

    def validate(self) -> dict[str, float]:
        """Validation loss, exact match, BLEU and chrF on (up to ``eval_sentences`` of) the
        validation pairs; recorded in the history."""
        if self.valid_data is None:
            return {}
        result = evaluate(
            self.model,
            self.valid_data,
            self.tgt_tokenizer,
            smoothing=self.settings.label_smoothing,
            max_sentences=self.settings.eval_sentences,
            device=self.device,
        )
        record = {"step": self.step, "train_seconds": round(self.train_seconds, 3), **result}
        self.history.valid.append(record)
        if self.on_validation is not None:
            self.on_validation(record)
        return record

    # -- the loop -------------------------------------------------------------------------------

    def _budget_spent(self) -> str:
        s = self.settings
        if s.max_steps is not None and self.step >= s.max_steps:
            return "max_steps"
        if s.max_minutes is not None and self.train_seconds >= 60 * s.max_minutes:
            return "max_minutes"
        return ""

    def fit(self) -> History:
        """Train until the step or time budget is spent (or Ctrl-C, or the validation target
        is reached). Returns the :class:`History`; writes ``checkpoint.pt`` to ``out_dir``."""
        from tqdm.auto import tqdm

        from course_lib.checkpoint import set_rng_state

        s = self.settings
        context = self.context
        if self._rng_to_restore is not None:
            set_rng_state(self._rng_to_restore)
            self._rng_to_restore = None
        elif self.step == 0:
            seed_everything(s.seed)
        self.model.train()
        show = s.progress and context.is_main
        bar = tqdm(
            total=s.max_steps,
            initial=self.step,
            disable=not show,
            desc="training",
            unit="step",
            dynamic_ncols=True,
        )
        live = _LivePlot() if (s.live_plot and context.is_main and _in_notebook()) else None
        flag = {"stop": False}
        window: list[float] = []
        reason = ""
        try:
            with _stop_on_sigint(flag):
                if self.on_start is not None:
                    self.on_start()
                while True:
                    reason = self._budget_spent()
                    if reason:
                        break
                    began = time.perf_counter()
                    loss = self.train_step(self._next_batch())
                    self.train_seconds += context.agree_max(time.perf_counter() - began)
                    window.append(loss)
                    bar.update(1)
                    if self.step % s.log_every == 0:
                        record = {
                            "step": self.step,
                            "loss": sum(window) / len(window),
                            "lr": self.scheduler.get_last_lr()[0],
                            "train_seconds": round(self.train_seconds, 3),
                        }
                        window.clear()
                        self.history.train.append(record)
                        bar.set_postfix(loss=f"{record['loss']:.3f}", refresh=False)
                        if live is not None:
                            live.update(self.history)
                    validated = self.step % s.eval_every == 0 and self.valid_data is not None
                    if validated:
                        reason = self._validate_and_check()
                        if live is not None:
                            live.update(self.history)
                        if reason:
                            break
                    every = s.checkpoint_every
                    if (every and self.step % every == 0) or (every is None and validated):
                        self.save()
                        context.barrier()
                    if context.agree_any(flag["stop"]):
                        reason = "interrupted"
                        break
            final_check = reason not in ("target_exact_match", "interrupted")
            if final_check and self.valid_data is not None and self._validated_at != self.step:
                self._validate_and_check()
        finally:
            bar.close()
            self.history.stopped = reason or "error"
            if reason:
                self.save()
                context.barrier()
            if live is not None:
                live.update(self.history)
        return self.history

    def _validate_and_check(self) -> str:
        """Validate on rank 0; every process learns whether the target was reached."""
        self._validated_at = self.step
        record = self.validate() if self.context.is_main else {}
        target = self.settings.target_exact_match
        reached = bool(target is not None and record.get("exact_match", 0.0) >= target)
        return "target_exact_match" if self.context.agree_any(reached) else ""


# ----------------------------------------------------------------------------------------
# The course's recipe: which model and settings `course-lib train` uses
# ----------------------------------------------------------------------------------------

#: The chapter's model on top of ``TransformerConfig.small`` (d_model 128, 4 heads, d_ff 512).
SMALL_MODEL: dict[str, Any] = {
    "n_encoder_layers": 3,
    "n_decoder_layers": 3,
    "norm_first": True,
    "tie_embeddings": True,
    "dropout": 0.1,
    "max_len": 64,
}

#: Training settings for the bundled corpus (reaches >= 99% held-out exact match).
TOY_TRAINING: dict[str, Any] = {
    "batch_size": 64,
    "max_steps": 1000,
    "warmup_steps": 100,
    "lr_scale": 0.5,
    "label_smoothing": 0.1,
    "clip_norm": 1.0,
    "eval_every": 100,
    "eval_sentences": None,
}

#: Training settings for real data (Tatoeba or a TSV file): a time budget.
REAL_TRAINING: dict[str, Any] = {
    "batch_size": 64,
    "max_minutes": 10.0,
    "warmup_steps": 400,
    "lr_scale": 0.3,
    "label_smoothing": 0.1,
    "clip_norm": 1.0,
    "eval_every": 500,
    "eval_sentences": 500,
}


def read_config_file(path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(model fields, training fields)`` from a JSON file for ``--config``: an object of
    ``TransformerConfig`` fields, optionally with a ``"training"`` object of
    :class:`TrainSettings` fields, e.g. ``{"d_model": 256, "training": {"batch_size": 32}}``."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise CourseLibError(f"--config: {path!r} is not 'small', 'base' or an existing JSON file")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CourseLibError(f"--config {file}: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise CourseLibError(f"--config {file}: expected a JSON object of config fields")
    training = data.pop("training", {})
    if not isinstance(training, dict):
        raise CourseLibError(f"--config {file}: 'training' must be an object")
    return data, training


def recipe(
    config: str = "small", corpus: str = "toy", tokenizer: str | None = None
) -> dict[str, Any]:
    """The model fields, training settings and tokenizer `course-lib train` uses.

    ``config`` is ``"small"`` (:data:`SMALL_MODEL`), ``"base"`` (the paper's base model,
    6 + 6 layers, d_model 512: slow on a CPU) or a JSON file of ``TransformerConfig``
    fields with an optional ``"training"`` object. ``corpus`` ``"toy"`` picks
    :data:`TOY_TRAINING`, anything else :data:`REAL_TRAINING`. Returns
    ``{"model": {...}, "training": {...}, "tokenizer": {"kind", ...}}``.
    """
    toy = corpus == "toy"
    training = dict(TOY_TRAINING if toy else REAL_TRAINING)
    if config == "small":
        model = dict(SMALL_MODEL)
    elif config == "base":
        model = {
            "d_model": 512,
            "n_heads": 8,
            "n_encoder_layers": 6,
            "n_decoder_layers": 6,
            "d_ff": 2048,
            "dropout": 0.1,
            "max_len": 128,
        }
        training["warmup_steps"] = 4000
        training["lr_scale"] = 1.0
    elif isinstance(config, str) and config.endswith(".json"):
        fields_, extra = read_config_file(config)
        model = {**SMALL_MODEL, **fields_}
        training.update(extra)
    else:
        raise CourseLibError(f"config must be 'small', 'base' or a .json file, got {config!r}")
    kind = tokenizer or "word"
    if kind not in ("word", "bpe"):
        raise CourseLibError(f"tokenizer must be 'word' or 'bpe', got {tokenizer!r}")
    spec = {"kind": kind, "min_freq": 1 if toy else 2, "vocab_size": 8000}
    return {"model": model, "training": training, "tokenizer": spec}


def fit_tokenizers(pairs: Sequence[tuple[str, str]], spec: dict[str, Any] | None = None):
    """English and French tokenizers fitted on the training pairs.

    ``spec``: ``{"kind": "word", "min_freq": 1}`` (default) or
    ``{"kind": "bpe", "vocab_size": 8000}``. Returns ``(src_tokenizer, tgt_tokenizer)``.
    """
    from course_lib.tokenize import BPETokenizer, WordTokenizer

    spec = dict(spec or {"kind": "word", "min_freq": 1})
    if not pairs:
        raise CourseLibError("fit_tokenizers: no training pairs")
    english = [e for e, _ in pairs]
    french = [f for _, f in pairs]
    if spec.get("kind", "word") == "bpe":
        size = int(spec.get("vocab_size", 8000))
        return (BPETokenizer.fit(english, size, "en"), BPETokenizer.fit(french, size, "fr"))
    min_freq = int(spec.get("min_freq", 1))
    return (WordTokenizer.fit(english, "en", min_freq), WordTokenizer.fit(french, "fr", min_freq))


def build_model(
    src_tokenizer: Any, tgt_tokenizer: Any, fields_: dict[str, Any] | None = None, seed: int = 0
):
    """A seeded :class:`~course_lib.model.Transformer` sized for the two vocabularies.

    ``fields_`` are ``TransformerConfig`` fields on top of ``TransformerConfig.small``
    (default :data:`SMALL_MODEL`). Returns ``(model, config)``.
    """
    from course_lib.config import TransformerConfig
    from course_lib.model import Transformer

    overrides = dict(SMALL_MODEL if fields_ is None else fields_)
    overrides.pop("src_vocab_size", None)
    overrides.pop("tgt_vocab_size", None)
    try:
        config = TransformerConfig.small(
            src_tokenizer.vocab_size, tgt_tokenizer.vocab_size, **overrides
        )
    except TypeError as error:
        raise CourseLibError(f"invalid model config: {error}") from None
    seed_everything(seed)
    return Transformer(config), config


def train(
    model: nn.Module,
    src_tokenizer: Any,
    tgt_tokenizer: Any,
    train_pairs: Sequence[tuple[str, str]],
    valid_pairs: Sequence[tuple[str, str]] | None = None,
    out_dir: str | Path | None = None,
    **settings: Any,
) -> History:
    """Train ``model`` in one call: ``train(model, src_tok, tgt_tok, corpus.train,
    corpus.valid, max_steps=600)``. Keyword arguments are :class:`TrainSettings` fields.
    Returns the :class:`History`."""
    trainer = Trainer(
        model,
        src_tokenizer,
        tgt_tokenizer,
        train_pairs,
        valid_pairs,
        TrainSettings(**settings),
        out_dir,
    )
    return trainer.fit()


__all__ = [
    "REAL_TRAINING",
    "SMALL_MODEL",
    "TOY_TRAINING",
    "EncodedPairs",
    "build_model",
    "fit_tokenizers",
    "recipe",
    "History",
    "LabelSmoothingLoss",
    "TrainSettings",
    "Trainer",
    "WarmupInverseSqrtSchedule",
    "bucketed_batches",
    "encode_pairs",
    "evaluate",
    "greedy_tokens",
    "label_smoothed_cross_entropy",
    "make_optimizer",
    "noam_schedule",
    "read_config_file",
    "resolve_precision",
    "seed_everything",
    "select_device",
    "teacher_forcing",
    "train",
]
