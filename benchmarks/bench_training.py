"""Training benchmarks: how fast the course's recipe learns, and how well, against a plain
``torch.nn.Transformer`` trained the same way.

* :func:`run_toy` trains the chapter's recipe (``course-lib train --corpus toy``) on the
  bundled corpus and measures the training time and number of steps until the held-out
  test pairs (verb-noun combinations never seen in training, "I hate pizza" among them)
  are translated with >= 99% exact match. Evaluation time is not counted as training.
* :func:`run_real` trains the course's recipe, or (``--no-course``) a plain
  ``nn.Transformer`` (post-norm, untied, random batches; same tokens, width, depth, loss,
  optimiser, schedule and precision), on the split by English sentence of
  ``tatoeba-eng-fra-large.tsv`` for the same wall-clock budget. Every
  :data:`CURVE_EVERY` steps both are scored on the same validation sample (the pairs of the
  first :data:`CURVE_SOURCES` validation sources) by the one evaluation path,
  :func:`course_lib.evaluate.evaluate` (evaluation time is not training time): the
  BLEU/chrF-against-time curve, and the headline, the training seconds until the
  validation chrF first reaches :data:`TARGET_CHRF`. At the end both are scored on the
  test split (BLEU, chrF, exact match; all references of a sentence).
* :func:`run_ablation_row` trains one row of :data:`ABLATION` for a short budget: which
  part of the recipe is worth how much.
* :func:`run_depth` compares 3 + 3 and 6 + 6 layers, post-norm and pre-norm, after the same
  short budget (the chapter's "depth on a budget" table).
* :func:`trained_real_model` is a model of the real recipe trained once (cached under
  ``benchmarks/.cache/``) for the translation-speed benchmark.

Run ``python benchmarks/bench_training.py toy`` or ``... real --minutes 10`` or
``... ablation --row 0 --minutes 3`` or ``... depth --minutes 3``; the last line
printed is one JSON object. Timings depend on the machine and on its load: say which
machine and how many threads (``--threads``) gave a number.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from course_lib import data
from course_lib.batching import EncodedPairs, bucketed_batches, encode_pairs
from course_lib.callbacks import Callback
from course_lib.config import TransformerConfig
from course_lib.evaluate import EvalResult, evaluate
from course_lib.interop import copy_to_torch
from course_lib.loss import label_smoothed_cross_entropy, teacher_forcing
from course_lib.model import Transformer
from course_lib.optim import WarmupInverseSqrtSchedule, clip_gradients, make_optimizer
from course_lib.recipes import SMALL_MODEL, SPLIT, build_model, fit_tokenizers, recipe
from course_lib.runtime import mixed_precision, resolve_precision
from course_lib.tokenize import END, PAD, START
from course_lib.trainer import Trainer, TrainSettings
from course_lib.translate import Translator, default_max_new_tokens

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "tatoeba-eng-fra-large.tsv"
CACHE = ROOT / "benchmarks" / ".cache"  # gitignored: the trained model of trained_real_model
warnings.filterwarnings("ignore", message=".*nested tensors is in prototype.*")
CURVE_EVERY = 200  # steps between two points of the chrF-against-time curve
CURVE_SOURCES = 300  # validation sources scored for the curve
#: The real-data headline: training seconds until the validation chrF first reaches this.
#: The recipe before issue 18 scored chrF 50.66 on the test split after 10 minutes.
TARGET_CHRF = 50.0
#: What ``course-lib train --corpus tatoeba`` uses: model fields, training settings, tokenizer.
REAL_RECIPE = recipe("small", "tatoeba")


def _machine(threads: int | None) -> dict[str, Any]:
    if threads is not None:
        torch.set_num_threads(threads)
    return {
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
    }


# ----------------------------------------------------------------------------------------
# The bundled corpus: time and steps to 99% held-out exact match
# ----------------------------------------------------------------------------------------


def run_toy(
    threads: int | None = None,
    eval_every: int = 10,
    max_steps: int | None = None,
    seed: int = 0,
    model_overrides: dict[str, Any] | None = None,
    training_overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train the chapter's recipe on the bundled corpus until 99% held-out exact match.

    The Trainer as chapter 6 and ``course-lib train`` use it (``fast="auto"``: the fast
    path where it pays; any compile time counts as training time). Validation on the
    held-out test pairs every ``eval_every`` steps (not counted as training time). Returns
    ``toy_seconds_to_99pct`` (training seconds, None if never reached within ``max_steps``,
    default the recipe's), ``toy_steps_to_99pct``, ``toy_seconds_per_step``,
    ``toy_wall_seconds`` (with evaluation), which forward trained (``toy_fast_path`` and
    why), the machine's load average, the curve, and the settings.
    """
    info = _machine(threads)
    corpus = data.make_toy_corpus()
    spec = recipe("small", "toy")
    src_tok, tgt_tok = fit_tokenizers(corpus.train, spec["tokenizer"])
    fields = {**spec["model"], **(model_overrides or {})}
    model, config = build_model(src_tok, tgt_tok, fields, seed=seed)
    settings = dict(spec["training"])
    settings.update(
        eval_every=eval_every,
        eval_sentences=None,
        seed=seed,
        target_exact_match=0.99,
        device="cpu",
        progress=False,
        log_every=eval_every,
    )
    if max_steps is not None:
        settings["max_steps"] = max_steps
    settings.update(training_overrides or {})
    trainer = Trainer(model, src_tok, tgt_tok, corpus.train, corpus.test, TrainSettings(**settings))
    cpu = {"train": 0.0}  # process time of the training steps alone (all threads)
    train_step = trainer.train_step

    def timed_step(indices):
        began = time.process_time()
        loss = train_step(indices)
        cpu["train"] += time.process_time() - began
        return loss

    trainer.train_step = timed_step
    load_before = os.getloadavg()[0]
    began = time.perf_counter()
    history = trainer.fit()
    wall = time.perf_counter() - began
    reached = [r for r in history.valid if r["exact_match"] >= 0.99]
    first = reached[0] if reached else None
    translator = Translator(model, src_tok, tgt_tok)
    generalisation = evaluate(translator, corpus.generalisation)
    return {
        "toy_seconds_to_99pct": first["train_seconds"] if first else None,
        "toy_steps_to_99pct": first["step"] if first else None,
        "toy_cpu_seconds_per_step": round(cpu["train"] / max(trainer.step, 1), 4),
        "toy_seconds_per_step": trainer.train_seconds / max(trainer.step, 1),
        "toy_wall_seconds": round(wall, 2),
        "toy_final_exact_match": history.valid[-1]["exact_match"],
        "toy_generalisation_exact_match": generalisation.exact_match,
        "toy_fast_path": trainer.forward.info.path,
        "toy_fast_path_reason": trainer.forward.info.reason,
        "toy_load_average": {
            "before": round(load_before, 2),
            "after": round(os.getloadavg()[0], 2),
        },
        "toy_curve": [
            {k: r[k] for k in ("step", "train_seconds", "exact_match")} for r in history.valid
        ],
        "parameters": model.num_parameters(),
        "config": config.to_dict(),
        "settings": TrainSettings(**settings).to_dict(),
        **info,
    }


# ----------------------------------------------------------------------------------------
# The real corpus: the course's recipe against torch.nn.Transformer
# ----------------------------------------------------------------------------------------


class TorchBaseline(nn.Module):
    """``nn.Transformer`` (post-norm as in the paper, unless ``norm_first``) with embeddings
    x sqrt(d_model), sinusoidal positions, dropout and an output layer; batch first; PAD = 0.
    """

    def __init__(
        self,
        src_vocab: int,
        tgt_vocab: int,
        d_model: int = 128,
        heads: int = 4,
        layers: int = 3,
        d_ff: int = 512,
        dropout: float = 0.1,
        max_len: int = 128,
        norm_first: bool = False,
    ):
        super().__init__()
        self.src_embed = nn.Embedding(src_vocab, d_model, padding_idx=PAD)
        self.tgt_embed = nn.Embedding(tgt_vocab, d_model, padding_idx=PAD)
        with warnings.catch_warnings():  # "enable_nested_tensor is True, but ..." is noise here
            warnings.filterwarnings("ignore", message="enable_nested_tensor is True")
            self.transformer = nn.Transformer(
                d_model,
                heads,
                layers,
                layers,
                d_ff,
                dropout,
                batch_first=True,
                norm_first=norm_first,
            )
        self.generator = nn.Linear(d_model, tgt_vocab)
        self.dropout = nn.Dropout(dropout)
        position = torch.arange(max_len).unsqueeze(1)
        div = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(position * div)
        pe[:, 1::2] = torch.cos(position * div)
        self.register_buffer("pe", pe)
        self.scale = math.sqrt(d_model)
        self.d_model = d_model
        self.max_len = max_len

    @classmethod
    def from_course(cls, model: Transformer) -> TorchBaseline:
        """The same network as a course model, with its weights (``course_lib.interop``):
        in eval mode both compute the same logits."""
        c = model.config
        peer = cls(
            c.src_vocab_size,
            c.tgt_vocab_size,
            c.d_model,
            c.n_heads,
            c.n_encoder_layers,
            c.d_ff,
            c.dropout,
            c.max_len,
            c.norm_first,
        )
        if c.n_decoder_layers != c.n_encoder_layers:
            raise ValueError("TorchBaseline has as many decoder layers as encoder layers")
        peer.transformer.encoder.enable_nested_tensor = False  # compute padded positions too
        peer.transformer.encoder.use_nested_tensor = False
        copy_to_torch(model, peer.transformer)
        with torch.no_grad():
            peer.src_embed.weight.copy_(model.src_embed.embedding.weight)
            peer.tgt_embed.weight.copy_(model.tgt_embed.embedding.weight)
            peer.generator.weight.copy_(model.generator.weight)
            peer.generator.bias.copy_(model.generator.bias)
        return peer.train(model.training)

    def _embed(self, embedding: nn.Embedding, ids: torch.Tensor) -> torch.Tensor:
        return self.dropout(embedding(ids) * self.scale + self.pe[: ids.size(1)])

    def encode(self, src: torch.Tensor) -> torch.Tensor:
        return self.transformer.encoder(
            self._embed(self.src_embed, src), src_key_padding_mask=src == PAD
        )

    def decode(self, tgt: torch.Tensor, memory: torch.Tensor, src: torch.Tensor) -> torch.Tensor:
        causal = nn.Transformer.generate_square_subsequent_mask(tgt.size(1), dtype=torch.bool)
        hidden = self.transformer.decoder(
            self._embed(self.tgt_embed, tgt),
            memory,
            tgt_mask=causal,
            tgt_key_padding_mask=tgt == PAD,
            memory_key_padding_mask=src == PAD,
        )
        return self.generator(hidden)

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        return self.decode(tgt, self.encode(src), src)

    @torch.no_grad()
    def greedy(self, src: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
        """Greedy decoding without a cache, as PyTorch's translation tutorial does it: the
        encoder runs once, the decoder re-reads the whole prefix at every step; stops when
        every sentence has produced ``<end>``. ``(batch, src_len)`` -> ``(batch, n)``."""
        memory = self.encode(src)
        ys = torch.full((src.size(0), 1), START, dtype=torch.long)
        done = torch.zeros(src.size(0), dtype=torch.bool)
        for _ in range(min(max_new_tokens, self.max_len - 1)):
            logits = self.decode(ys, memory, src)[:, -1]
            logits[:, [PAD, START]] = float("-inf")  # never chosen (as the course's greedy)
            nxt = logits.argmax(-1).masked_fill(done, PAD)
            ys = torch.cat([ys, nxt[:, None]], dim=1)
            done |= nxt == END
            if bool(done.all()):
                break
        return ys[:, 1:]

    def translate(
        self, sentences: list[str], src_tok: Any, tgt_tok: Any, batch_size: int = 64
    ) -> list[str]:
        """Translations of ``sentences`` (same order): tokenise, sort by length, pad into
        batches of ``batch_size`` (1: one sentence at a time, as the tutorials do),
        :meth:`greedy`, cut at ``<end>``, detokenise. The token limit is the course's
        (:func:`course_lib.translate.default_max_new_tokens`); long sources are truncated."""
        encoded = [src_tok.encode(s)[: self.max_len] or [PAD] for s in sentences]
        order = sorted(range(len(sentences)), key=lambda i: len(encoded[i]))
        out = [""] * len(sentences)
        was_training = self.training
        self.eval()
        for begin in range(0, len(order), batch_size):
            batch = order[begin : begin + batch_size]
            width = max(len(encoded[i]) for i in batch)
            src = torch.full((len(batch), width), PAD, dtype=torch.long)
            for row, i in enumerate(batch):
                src[row, : len(encoded[i])] = torch.tensor(encoded[i])
            tokens = self.greedy(src, default_max_new_tokens(width, self.max_len)).tolist()
            for row, i in enumerate(batch):
                ids = tokens[row]
                out[i] = tgt_tok.decode(ids[: ids.index(END)] if END in ids else ids)
        self.train(was_training)
        return out


@dataclass
class RealData:
    """The real corpus as the benchmarks use it: the split by English sentence that
    ``course-lib train`` makes, word tokenizers fitted on its training pairs, the encoded
    training pairs, the validation sample of the curve (the pairs of the first
    :data:`CURVE_SOURCES` validation sources) and the test pairs (strings)."""

    src_tok: Any
    tgt_tok: Any
    train: EncodedPairs
    valid: list[tuple[str, str]]
    test: list[tuple[str, str]]
    path: str


def _first_sources(pairs: list[tuple[str, str]], limit: int | None) -> list[tuple[str, str]]:
    """The pairs of the first ``limit`` distinct English sentences (None: all pairs)."""
    if limit is None:
        return pairs
    keep = set(list(dict.fromkeys(e for e, _ in pairs))[:limit])
    return [p for p in pairs if p[0] in keep]


def real_data(
    data_path: str | Path = DEFAULT_DATA,
    test_limit: int | None = None,
    curve_sources: int = CURVE_SOURCES,
    tokenizer: dict[str, Any] | None = None,
) -> RealData:
    """:class:`RealData` for ``data_path``; ``test_limit`` keeps the first test sources only;
    ``tokenizer`` overrides the recipe's tokenizer spec."""
    splits = data.split_by_source(data.read_pairs_tsv(data_path), **SPLIT)
    spec = {**REAL_RECIPE["tokenizer"], **(tokenizer or {})}
    src_tok, tgt_tok = fit_tokenizers(splits.train, spec)
    train = encode_pairs(splits.train, src_tok, tgt_tok, REAL_RECIPE["model"]["max_len"], "train")
    return RealData(
        src_tok,
        tgt_tok,
        train,
        _first_sources(list(splits.valid), curve_sources),
        _first_sources(list(splits.test), test_limit),
        str(data_path),
    )


def _examples(result: EvalResult, count: int = 10) -> list[tuple[str, str, str]]:
    """``count`` ``(source, translation, first reference)`` triples from short to long
    sentences: evenly spaced in the sources sorted by length (the same sentences for any
    model scored on the same test set)."""
    sources = result.sources
    by_length = sorted(range(len(sources)), key=lambda i: (len(sources[i].split()), sources[i]))
    if len(by_length) <= count:
        picked = by_length
    else:
        picked = [by_length[round(k * (len(by_length) - 1) / (count - 1))] for k in range(count)]
    return [(sources[i], result.hypotheses[i], result.references[i][0]) for i in picked]


def _score_course(model: Transformer, corpus: RealData, pairs: list[tuple[str, str]]) -> EvalResult:
    return evaluate(Translator(model, corpus.src_tok, corpus.tgt_tok), pairs, batch_size=200)


def _score_peer(peer: TorchBaseline, corpus: RealData, pairs: list[tuple[str, str]]) -> EvalResult:
    def translate(sentences: list[str]) -> list[str]:
        return peer.translate(sentences, corpus.src_tok, corpus.tgt_tok, 200)

    return evaluate(translate, pairs, batch_size=len(pairs))  # one call: sorted by length


def _curve_point(step: int, seconds: float, scores: EvalResult) -> dict[str, Any]:
    return {
        "step": step,
        "train_seconds": round(seconds, 1),
        "bleu": round(scores.bleu, 2),
        "chrf": round(scores.chrf, 2),
    }


def seconds_to_target(curve: list[dict[str, Any]], target: float = TARGET_CHRF) -> float | None:
    """Training seconds at the first curve point whose chrF reaches ``target`` (None: never).
    An upper bound: the target may have been crossed up to :data:`CURVE_EVERY` steps earlier."""
    return next((p["train_seconds"] for p in curve if p["chrf"] >= target), None)


class Curve(Callback):
    """Scores the course model on the validation sample every ``every`` steps and at the end
    (the trainer does not count the time as training time) and records the curve."""

    def __init__(self, corpus: RealData, every: int):
        self.corpus, self.every, self.points = corpus, every, []

    def _point(self, trainer: Any) -> None:
        scores = _score_course(trainer.model, self.corpus, self.corpus.valid)
        trainer.model.train()
        self.points.append(_curve_point(trainer.step, trainer.train_seconds, scores))

    def on_step(self, trainer: Any, loss: float) -> None:
        if trainer.step % self.every == 0:
            self._point(trainer)

    def on_end(self, trainer: Any) -> None:
        if not self.points or self.points[-1]["step"] != trainer.step:
            self._point(trainer)


class CpuBudget(Callback):
    """Stops training after ``minutes`` of CPU time of this process (all threads) since the
    loop started: with one thread it is what the steps would take on an idle core, whatever
    else the machine is doing, so every configuration gets the same computation."""

    def __init__(self, minutes: float):
        self.seconds, self.began, self.used = 60 * minutes, 0.0, 0.0

    def on_start(self, trainer: Any) -> None:
        self.began = time.process_time()

    def on_step(self, trainer: Any, loss: float) -> None:
        self.used = time.process_time() - self.began
        if self.used >= self.seconds:
            trainer.stop("max_minutes")


def _real_settings(minutes: float | None, seed: int, **overrides: Any) -> TrainSettings:
    """The real-corpus recipe with a wall-clock budget and no validation of the trainer's
    own (the benchmarks score with :class:`Curve` or at the end)."""
    return TrainSettings(
        **{
            **REAL_RECIPE["training"],
            "max_minutes": minutes,
            "seed": seed,
            "device": "cpu",
            "progress": False,
            "eval_every": 10**9,
            **overrides,
        }
    )


def _train_baseline(
    model: TorchBaseline, corpus: RealData, settings: TrainSettings, minutes: float
) -> dict[str, Any]:
    """The baseline's loop: the course's loss, Adam, schedule, clipping and precision
    (``settings.precision``: bfloat16 autocast on a CPU with bfloat16 instructions), on
    plain random batches (no length bucketing: ``pool_batches=1``). Every
    :data:`CURVE_EVERY` steps and at the end the model is scored on the validation sample
    (not counted as training)."""
    optimizer = make_optimizer(model)  # the course's Adam, fused where torch has it
    dtype = resolve_precision(settings.precision, torch.device("cpu"))
    scheduler = WarmupInverseSqrtSchedule(
        optimizer, model.d_model, settings.warmup_steps, settings.lr_scale
    )
    train = corpus.train
    src_lengths = [len(s) for s in train.src]
    tgt_lengths = [len(t) for t in train.tgt]
    torch.manual_seed(settings.seed)
    model.train()
    step, epoch, spent, losses, curve = 0, 0, 0.0, [], []

    def score() -> None:
        curve.append(_curve_point(step, spent, _score_peer(model, corpus, corpus.valid)))

    while spent < 60 * minutes:
        for batch in bucketed_batches(
            src_lengths, tgt_lengths, settings.batch_size, settings.seed, epoch, pool_batches=1
        ):
            began = time.perf_counter()
            src, tgt = train.batch(batch)
            decoder_input, labels = teacher_forcing(tgt)
            with mixed_precision("cpu", dtype):
                logits = model(src, decoder_input)
            loss = label_smoothed_cross_entropy(logits, labels, settings.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            clip_gradients(model, settings.clip_norm)
            optimizer.step()
            scheduler.step()
            step += 1
            spent += time.perf_counter() - began
            if step % 50 == 0:
                losses.append({"step": step, "loss": loss.item(), "train_seconds": spent})
            if step % CURVE_EVERY == 0:
                score()
            if spent >= 60 * minutes:
                break
        epoch += 1
    if not curve or curve[-1]["step"] != step:
        score()
    model.eval()
    return {"steps": step, "train_seconds": spent, "losses": losses, "curve": curve}


def train_course(
    corpus: RealData,
    settings: TrainSettings,
    model_fields: dict[str, Any] | None = None,
    curve_every: int | None = CURVE_EVERY,
    callbacks: tuple[Callback, ...] = (),
    seed: int = 0,
) -> tuple[Transformer, Trainer, list[dict[str, Any]]]:
    """Train the course's model (``model_fields`` on top of the real recipe's) on
    ``corpus.train``; with ``curve_every``, the validation curve. Returns
    ``(model, trainer, curve)``; the model is left in eval mode."""
    fields = {**REAL_RECIPE["model"], **(model_fields or {})}
    model, _ = build_model(corpus.src_tok, corpus.tgt_tok, fields, seed=seed)
    curve = Curve(corpus, curve_every) if curve_every else None
    trainer = Trainer(
        model,
        corpus.src_tok,
        corpus.tgt_tok,
        corpus.train,
        None,
        settings,
        callbacks=(*callbacks, *([curve] if curve else [])),
    )
    trainer.fit()
    model.eval()
    return model, trainer, curve.points if curve else []


def run_real(
    minutes: float = 10.0,
    data_path: str | Path = DEFAULT_DATA,
    threads: int | None = None,
    seed: int = 0,
    test_limit: int | None = None,
    baseline: bool = True,
    course: bool = True,
) -> dict[str, Any]:
    """Train the course's recipe and (with ``baseline``) ``nn.Transformer`` for ``minutes``
    of training each (the course on bucketed batches, the baseline on random ones, as
    its plain recipe); the validation curve of each; score both on the test split.

    Returns ``real_seconds_to_target_chrf`` / ``torch_real_seconds_to_target_chrf``
    (None: not reached within the budget), ``real_target_chrf``, ``real_bleu_10min``,
    ``real_chrf_10min``, ``torch_real_bleu_10min``, ``torch_real_chrf_10min`` (the key
    names keep "10min" whatever ``minutes`` is; the budget used is in ``minutes``), steps,
    seconds, curves and example translations.
    """
    info = _machine(threads)
    corpus = real_data(data_path, test_limit)
    settings = _real_settings(minutes, seed)
    result: dict[str, Any] = {
        "minutes": minutes,
        "data": str(data_path),
        "train_pairs": len(corpus.train),
        "test_sources": len({e for e, _ in corpus.test}),
        "src_vocab": corpus.src_tok.vocab_size,
        "tgt_vocab": corpus.tgt_tok.vocab_size,
        "settings": settings.to_dict(),
        "curve_every": CURVE_EVERY,
        "curve_sources": len({e for e, _ in corpus.valid}),
        "real_target_chrf": TARGET_CHRF,
        **info,
    }
    if course:
        model, trainer, curve = train_course(corpus, settings, seed=seed)
        ours = _score_course(model, corpus, corpus.test)
        result.update(
            real_seconds_to_target_chrf=seconds_to_target(curve),
            real_steps_to_target_chrf=next(
                (p["step"] for p in curve if p["chrf"] >= TARGET_CHRF), None
            ),
            real_bleu_10min=ours.bleu,
            real_chrf_10min=ours.chrf,
            real_exact_match=ours.exact_match,
            real_steps=trainer.step,
            real_train_seconds=trainer.train_seconds,
            real_seconds_per_step=trainer.train_seconds / max(trainer.step, 1),
            real_parameters=model.num_parameters(),
            real_config=model.config.to_dict(),
            real_fast_path=trainer.forward.info.path,  # which forward trained, and why
            real_fast_path_reason=trainer.forward.info.reason,
            real_curve=curve,
            real_examples=_examples(ours),
            sacrebleu_signature=ours.signature,
        )
    if baseline:
        torch.manual_seed(seed)
        fields = REAL_RECIPE["model"]  # the same sizes and dropout as the course's model
        peer = TorchBaseline(
            corpus.src_tok.vocab_size,
            corpus.tgt_tok.vocab_size,
            fields["d_model"],
            fields["n_heads"],
            fields["n_encoder_layers"],
            fields["d_ff"],
            fields["dropout"],
            fields["max_len"],
        )
        run = _train_baseline(peer, corpus, settings, minutes)
        theirs = _score_peer(peer, corpus, corpus.test)
        result.update(
            torch_real_seconds_to_target_chrf=seconds_to_target(run["curve"]),
            torch_real_bleu_10min=theirs.bleu,
            torch_real_chrf_10min=theirs.chrf,
            torch_real_exact_match=theirs.exact_match,
            torch_real_steps=run["steps"],
            torch_real_train_seconds=run["train_seconds"],
            torch_real_seconds_per_step=run["train_seconds"] / max(run["steps"], 1),
            torch_real_parameters=sum(p.numel() for p in peer.parameters()),
            torch_real_examples=_examples(theirs),
            torch_real_curve=run["curve"],
        )
    return result


def trained_real_model(
    corpus: RealData, train_seconds: float = 120.0, path: Path = CACHE / "real-model.pt"
) -> tuple[Transformer, dict[str, Any]]:
    """A model of the real recipe for the translation benchmark, so that translations have
    realistic lengths (random weights never say ``<end>``): loaded from ``path`` if it was
    trained for these vocabularies, else trained for ``train_seconds`` and saved there.
    Returns ``(model, info)`` (steps, seconds, the file)."""
    if path.exists():
        saved = torch.load(path, map_location="cpu", weights_only=False)
        config = TransformerConfig.from_dict(saved["config"])
        if (config.src_vocab_size, config.tgt_vocab_size) == (
            corpus.src_tok.vocab_size,
            corpus.tgt_tok.vocab_size,
        ):
            model = Transformer(config)
            model.load_state_dict(saved["state"])
            return model.eval(), {**saved["info"], "file": str(path.relative_to(ROOT))}
    model, trainer, _ = train_course(
        corpus, _real_settings(train_seconds / 60, seed=0), curve_every=None
    )
    info = {"steps": trainer.step, "train_seconds": round(trainer.train_seconds, 1)}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"config": model.config.to_dict(), "state": model.state_dict(), "info": info}, path)
    return model, {**info, "file": str(path.relative_to(ROOT))}


DEPTHS: dict[str, dict[str, Any]] = {
    "3+3 pre-norm (the course's recipe)": {},
    "3+3 post-norm": {"norm_first": False},
    "6+6 post-norm (the paper's depth)": {
        "norm_first": False,
        "n_encoder_layers": 6,
        "n_decoder_layers": 6,
    },
    "6+6 pre-norm": {"n_encoder_layers": 6, "n_decoder_layers": 6},
}


def run_depth(
    minutes: float = 3.0,
    data_path: str | Path = DEFAULT_DATA,
    threads: int | None = None,
    seed: int = 0,
    test_limit: int | None = 500,
    toy_steps: int = 300,
) -> dict[str, Any]:
    """Depth on a budget: the configurations in :data:`DEPTHS` (d_model 128, same schedule,
    batches and seed) trained for ``minutes`` of CPU time each (:class:`CpuBudget`, so the
    budget does not depend on the machine's load; use one thread) on the real corpus,
    scored on (the first ``test_limit`` sources of) its test split; and on the bundled
    corpus, the held-out exact match after ``toy_steps`` steps."""
    info = _machine(threads)
    corpus = real_data(data_path, test_limit)
    settings = _real_settings(None, seed, max_steps=10**9)  # the budget is CpuBudget's
    toy = data.make_toy_corpus()
    toy_spec = recipe("small", "toy")
    toy_src, toy_tgt = fit_tokenizers(toy.train, toy_spec["tokenizer"])
    toy_settings = TrainSettings(
        **{
            **toy_spec["training"],
            "max_steps": toy_steps,
            "seed": seed,
            "device": "cpu",
            "progress": False,
            "eval_every": 100,
            "eval_sentences": None,
        }
    )
    rows = []
    for name, overrides in DEPTHS.items():
        budget = CpuBudget(minutes)
        model, trainer, _ = train_course(
            corpus, settings, overrides, curve_every=None, callbacks=(budget,), seed=seed
        )
        scores = _score_course(model, corpus, corpus.test)
        toy_model, _ = build_model(toy_src, toy_tgt, {**SMALL_MODEL, **overrides}, seed=seed)
        toy_trainer = Trainer(toy_model, toy_src, toy_tgt, toy.train, toy.test, toy_settings)
        toy_history = toy_trainer.fit()
        rows.append(
            {
                "config": name,
                "parameters": model.num_parameters(),
                "real_steps": trainer.step,
                "real_train_seconds": round(trainer.train_seconds, 1),
                "real_train_cpu_seconds": round(budget.used, 1),
                "real_bleu": round(scores.bleu, 2),
                "real_chrf": round(scores.chrf, 2),
                "toy_steps": toy_trainer.step,
                "toy_exact_match_by_step": {
                    r["step"]: round(r["exact_match"], 4) for r in toy_history.valid
                },
            }
        )
    return {
        "minutes": minutes,
        "budget": "CPU time of the training steps",
        "test_sources": len({e for e, _ in corpus.test}),
        "rows": rows,
        **info,
    }


@dataclass(frozen=True)
class AblationRow:
    """One row of the recipe ablation: what it changes, compared with which row."""

    change: str  # what this row changes, in words
    model: dict[str, Any]  # TransformerConfig fields on top of the real recipe's
    pool_batches: int = 50  # batches per length-sorted pool; 1 = random batches
    training: dict[str, Any] | None = None  # TrainSettings fields on top of the recipe's
    average_last: int = 0  # average the weights of the last N snapshots (0: no averaging)
    versus: str | None = None  # the row it is compared with (None: the row above)


_UNTIED_POST = {"norm_first": False, "tie_embeddings": False, "dropout": 0.1}
RECIPE_ROW = "+ no dropout (the course's recipe)"  # the ablation row that is the recipe

#: The recipe ablation: from nn.Transformer's defaults to the course's recipe, one change
#: per row, then changes measured against the recipe (kept out of it, or not yet in it).
ABLATION: dict[str, AblationRow] = {
    "post-norm, untied, random batches (nn.Transformer's defaults)": AblationRow(
        "the baseline (dropout 0.1)", _UNTIED_POST, 1
    ),
    "+ bucketed batches": AblationRow("batches of similar-length sentences", _UNTIED_POST),
    "+ pre-norm": AblationRow(
        "LayerNorm before each sub-layer", {"tie_embeddings": False, "dropout": 0.1}
    ),
    "+ output layer tied to the French embedding (the recipe before issue 18)": AblationRow(
        "one matrix for the French embedding and the output layer", {"dropout": 0.1}
    ),
    RECIPE_ROW: AblationRow("dropout 0.1 -> 0 (recipes.RECIPE_MODEL_CHANGES)", {}),
    "recipe + averaging the last 5 snapshots": AblationRow(
        "weights averaged over the last 5 snapshots, one every 100 steps (not in the recipe)",
        {},
        average_last=5,
        versus=RECIPE_ROW,
    ),
    "recipe + twice the learning rate": AblationRow(
        "lr_scale 0.3 -> 0.6 (rejected)", {}, training={"lr_scale": 0.6}, versus=RECIPE_ROW
    ),
    "recipe + batches of 128 sentences": AblationRow(
        "batch_size 64 -> 128 (rejected)", {}, training={"batch_size": 128}, versus=RECIPE_ROW
    ),
}


class AverageLast(Callback):
    """Keeps a copy of the weights every ``every`` steps (the last ``count``) and, at the
    end, loads their average into the model (checkpoint averaging, as in the paper §6.1)."""

    def __init__(self, count: int, every: int = 100):
        self.count, self.every, self.snapshots = count, every, []

    def on_step(self, trainer: Any, loss: float) -> None:
        if trainer.step % self.every == 0:
            state = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
            self.snapshots = [*self.snapshots, state][-self.count :]

    def on_end(self, trainer: Any) -> None:
        if len(self.snapshots) > 1:
            n = len(self.snapshots)
            average = {
                key: sum(s[key] for s in self.snapshots) / n
                if self.snapshots[0][key].is_floating_point()
                else self.snapshots[-1][key]
                for key in self.snapshots[0]
            }
            trainer.model.load_state_dict(average)


def run_ablation_row(
    name: str,
    minutes: float = 3.0,
    data_path: str | Path = DEFAULT_DATA,
    threads: int | None = None,
    seed: int = 0,
    test_limit: int | None = 500,
) -> dict[str, Any]:
    """Train one row of :data:`ABLATION` for ``minutes`` on the real corpus and score it on
    (the first ``test_limit`` sources of) the test split and on the validation sample.
    Rows run one per process, so the runner can train two at a time, one core each."""
    if name not in ABLATION:
        raise SystemExit(f"unknown ablation row {name!r}; choose from {list(ABLATION)}")
    row = ABLATION[name]
    info = _machine(threads)
    corpus = real_data(data_path, test_limit)
    settings = _real_settings(minutes, seed, **(row.training or {}))
    callbacks = (AverageLast(row.average_last),) if row.average_last else ()
    previous, Trainer.pool_batches = Trainer.pool_batches, row.pool_batches
    try:
        model, trainer, _ = train_course(
            corpus, settings, row.model, curve_every=None, callbacks=callbacks, seed=seed
        )
    finally:
        Trainer.pool_batches = previous
    scores = _score_course(model, corpus, corpus.test)
    valid = _score_course(model, corpus, corpus.valid)
    return {
        "config": name,
        "change": row.change,
        "versus": row.versus,
        "minutes": minutes,
        "test_sources": scores.n,
        "parameters": model.num_parameters(),
        "steps": trainer.step,
        "train_seconds": round(trainer.train_seconds, 1),
        "seconds_per_step": round(trainer.train_seconds / max(trainer.step, 1), 4),
        "bleu": round(scores.bleu, 2),
        "chrf": round(scores.chrf, 2),
        "valid_chrf": round(valid.chrf, 2),
        "torch_threads": info["torch_threads"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("which", choices=["toy", "real", "depth", "ablation"])
    parser.add_argument("--row", type=int, default=0, help="ablation row (0-based)")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test-limit", type=int, default=None)
    parser.add_argument("--no-baseline", action="store_true", help="real: skip nn.Transformer")
    parser.add_argument("--no-course", action="store_true", help="real: skip the course model")
    args = parser.parse_args()
    if args.which == "toy":
        result = run_toy(threads=args.threads, seed=args.seed)
    elif args.which == "ablation":
        name = list(ABLATION)[args.row]
        result = run_ablation_row(name, args.minutes, args.data, args.threads, args.seed)
    elif args.which == "depth":
        result = run_depth(args.minutes, args.data, args.threads, args.seed, args.test_limit or 500)
    else:
        result = run_real(
            args.minutes,
            args.data,
            args.threads,
            args.seed,
            args.test_limit,
            baseline=not args.no_baseline,
            course=not args.no_course,
        )
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
