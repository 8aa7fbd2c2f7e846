"""Training benchmarks: how fast the course's recipe learns, and how well, against a plain
``torch.nn.Transformer`` trained the same way.

* :func:`run_toy` trains the chapter's recipe (``course-lib train --corpus toy``) on the
  bundled corpus and measures the training time and number of steps until the held-out
  test pairs (verb-noun combinations never seen in training, "I hate pizza" among them)
  are translated with >= 99% exact match. Evaluation time is not counted as training.
* :func:`run_real` trains, for the same wall-clock budget each, the course's recipe and a
  plain ``nn.Transformer`` (word-level tokens, d_model 128, 3 + 3 post-norm layers, Adam
  with warm-up, label smoothing 0.1, random batches) on the same split by English
  sentence of ``tatoeba-eng-fra-large.tsv``, then scores both on the test split with
  greedy decoding and sacrebleu (BLEU and chrF, all references of a sentence). Both are
  also scored on a validation sample during training: BLEU against training time.
* :func:`run_ablation_row` trains one row of :data:`ABLATION` (nn.Transformer's defaults,
  then bucketing, pre-norm and a tied output layer added one at a time) for a short budget:
  which part of the recipe is worth how many BLEU points.
* :func:`run_depth` compares 3 + 3 and 6 + 6 layers, post-norm and pre-norm, after the same
  short budget (the chapter's "depth on a budget" table).

Run ``python benchmarks/bench_training.py toy`` or ``... real --minutes 10`` or
``... ablation --row 0 --minutes 3`` or ``... depth --minutes 3``; the last line
printed is one JSON object. Timings depend on the machine and on its load: say which
machine and how many threads (``--threads``) gave a number.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from course_lib import data
from course_lib.train import (
    PAD,
    REAL_TRAINING,
    SMALL_MODEL,
    START,
    EncodedPairs,
    Trainer,
    TrainSettings,
    WarmupInverseSqrtSchedule,
    bucketed_batches,
    build_model,
    encode_pairs,
    evaluate,
    fit_tokenizers,
    label_smoothed_cross_entropy,
    recipe,
    teacher_forcing,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "tatoeba-eng-fra-large.tsv"
warnings.filterwarnings("ignore", message=".*nested tensors is in prototype.*")
SPLIT = {"valid_fraction": 0.05, "test_fraction": 0.05, "seed": 0}  # as `course-lib train`
CURVE_EVERY = 400  # steps between two points of the BLEU-against-time curve
CURVE_SOURCES = 300  # validation sources scored for the curve


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


class _CpuTimedTrainer(Trainer):
    """A Trainer that also counts the CPU time of its training steps (process time, all
    threads): with one thread it is what the steps would take on an idle core, whatever
    else the machine is doing."""

    cpu_seconds = 0.0

    def train_step(self, indices):
        began = time.process_time()
        loss = super().train_step(indices)
        self.cpu_seconds += time.process_time() - began
        return loss

    def validate(self):
        record = super().validate()
        record["train_cpu_seconds"] = round(self.cpu_seconds, 3)
        return record


class _CpuBudgetTrainer(_CpuTimedTrainer):
    """A Trainer whose ``max_minutes`` budget counts the CPU time of its training steps
    (see :class:`_CpuTimedTrainer`), not wall-clock time: on a shared machine every
    configuration then gets the same amount of computation, whatever else is running."""

    def _budget_spent(self) -> str:
        s = self.settings
        if s.max_steps is not None and self.step >= s.max_steps:
            return "max_steps"
        if s.max_minutes is not None and self.cpu_seconds >= 60 * s.max_minutes:
            return "max_minutes"
        return ""


def run_toy(
    threads: int | None = None,
    eval_every: int = 25,
    max_steps: int = 1000,
    seed: int = 0,
    model_overrides: dict[str, Any] | None = None,
    training_overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train the chapter's recipe on the bundled corpus until 99% held-out exact match.

    Validation on the held-out test pairs every ``eval_every`` steps (not counted as
    training time). Returns ``toy_seconds_to_99pct`` (training seconds, None if never
    reached within ``max_steps``), ``toy_steps_to_99pct``, ``toy_seconds_per_step``,
    ``toy_wall_seconds`` (with evaluation), the curve, and the settings.
    """
    info = _machine(threads)
    corpus = data.make_toy_corpus()
    spec = recipe("small", "toy")
    src_tok, tgt_tok = fit_tokenizers(corpus.train, spec["tokenizer"])
    fields = {**spec["model"], **(model_overrides or {})}
    model, config = build_model(src_tok, tgt_tok, fields, seed=seed)
    settings = dict(spec["training"])
    settings.update(
        max_steps=max_steps,
        eval_every=eval_every,
        eval_sentences=None,
        seed=seed,
        target_exact_match=0.99,
        device="cpu",
        progress=False,
        log_every=eval_every,
    )
    settings.update(training_overrides or {})
    trainer = _CpuTimedTrainer(
        model, src_tok, tgt_tok, corpus.train, corpus.test, TrainSettings(**settings)
    )
    began = time.perf_counter()
    history = trainer.fit()
    wall = time.perf_counter() - began
    reached = [r for r in history.valid if r["exact_match"] >= 0.99]
    first = reached[0] if reached else None
    generalisation = evaluate(model, encode_pairs(corpus.generalisation, src_tok, tgt_tok), tgt_tok)
    return {
        "toy_seconds_to_99pct": first["train_seconds"] if first else None,
        "toy_steps_to_99pct": first["step"] if first else None,
        "toy_cpu_seconds_to_99pct": first["train_cpu_seconds"] if first else None,
        "toy_seconds_per_step": trainer.train_seconds / max(trainer.step, 1),
        "toy_wall_seconds": round(wall, 2),
        "toy_final_exact_match": history.valid[-1]["exact_match"],
        "toy_generalisation_exact_match": generalisation["exact_match"],
        "toy_curve": [
            {k: r[k] for k in ("step", "train_seconds", "train_cpu_seconds", "exact_match")}
            for r in history.valid
        ],
        "parameters": model.num_parameters(),
        "config": config.to_dict(),
        "settings": TrainSettings(**settings).to_dict(),
        **info,
    }


# ----------------------------------------------------------------------------------------
# The real corpus: the course's recipe against torch.nn.Transformer, same budget
# ----------------------------------------------------------------------------------------


class TorchBaseline(nn.Module):
    """``nn.Transformer`` (post-norm, as in the paper) with embeddings x sqrt(d_model),
    sinusoidal positions, dropout and an output layer; batch first; PAD = 0."""

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
    ):
        super().__init__()
        self.src_embed = nn.Embedding(src_vocab, d_model, padding_idx=PAD)
        self.tgt_embed = nn.Embedding(tgt_vocab, d_model, padding_idx=PAD)
        self.transformer = nn.Transformer(
            d_model, heads, layers, layers, d_ff, dropout, batch_first=True
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
        """Greedy decoding (the encoder runs once; the decoder re-reads the prefix)."""
        memory = self.encode(src)
        ys = torch.full((src.size(0), 1), START, dtype=torch.long)
        done = torch.zeros(src.size(0), dtype=torch.bool)
        for _ in range(min(max_new_tokens, self.max_len - 1)):
            nxt = self.decode(ys, memory, src)[:, -1].argmax(-1).masked_fill(done, PAD)
            ys = torch.cat([ys, nxt[:, None]], dim=1)
            done |= nxt == 2
            if bool(done.all()):
                break
        return ys[:, 1:]


def _examples(
    sources: list[str], hyps: list[str], refs: list[list[str]], count: int = 10
) -> list[tuple[str, str, str]]:
    """``count`` ``(source, translation, first reference)`` triples from short to long
    sentences: evenly spaced in the sources sorted by length (the same sentences for any
    model scored on the same test set)."""
    by_length = sorted(range(len(sources)), key=lambda i: (len(sources[i].split()), sources[i]))
    if len(by_length) <= count:
        picked = by_length
    else:
        picked = [by_length[round(k * (len(by_length) - 1) / (count - 1))] for k in range(count)]
    return [(sources[i], hyps[i], refs[i][0]) for i in picked]


def _score(translate, test: EncodedPairs, tgt_tok, batch_size: int = 200) -> dict[str, float]:
    """Greedy-translate each distinct source once; BLEU/chrF against all its references."""
    import sacrebleu

    groups: dict[str, list[int]] = {}
    for i, (english, _) in enumerate(test.pairs):
        groups.setdefault(english, []).append(i)
    firsts = sorted((m[0] for m in groups.values()), key=lambda i: len(test.src[i]))
    out: dict[str, list[int]] = {}
    for begin in range(0, len(firsts), batch_size):
        idx = firsts[begin : begin + batch_size]
        src, _ = test.batch(idx)
        tokens = translate(src, 2 * src.size(1) + 10)
        for row, i in enumerate(idx):
            ids = []
            for t in tokens[row].tolist():
                if t in (2, PAD):
                    break
                ids.append(t)
            out[test.pairs[i][0]] = ids
    hyps, refs, exact = [], [], 0
    for english, members in groups.items():
        ids = out[english]
        hyps.append(tgt_tok.decode(ids))
        refs.append(list(dict.fromkeys(test.pairs[i][1] for i in members)))
        exact += int(any(ids == test.tgt[i] and 3 not in test.tgt[i] for i in members))
    width = max(len(r) for r in refs)
    streams = [[r[k] if k < len(r) else None for r in refs] for k in range(width)]
    bleu = sacrebleu.metrics.BLEU()
    return {
        "bleu": bleu.corpus_score(hyps, streams).score,
        "chrf": sacrebleu.corpus_chrf(hyps, streams).score,
        "exact_match": exact / len(groups),
        "n": len(groups),
        "signature": str(bleu.get_signature()),
        "examples": _examples(list(groups), hyps, refs),
    }


def _train_baseline(
    model: TorchBaseline,
    train: EncodedPairs,
    settings: TrainSettings,
    minutes: float,
    valid: EncodedPairs,
    tgt_tok: Any,
) -> dict[str, Any]:
    """The baseline's loop: Trainer's loss, Adam, schedule and clipping, on plain random
    batches (no length bucketing: ``pool_batches=1``). Every :data:`CURVE_EVERY` steps and
    at the end the model is scored on ``valid`` (not counted as training time)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1.0, betas=(0.9, 0.98), eps=1e-9)
    scheduler = WarmupInverseSqrtSchedule(
        optimizer, model.d_model, settings.warmup_steps, settings.lr_scale
    )
    src_lengths = [len(s) for s in train.src]
    tgt_lengths = [len(t) for t in train.tgt]
    torch.manual_seed(settings.seed)
    model.train()
    step, epoch, spent, losses, curve = 0, 0, 0.0, [], []

    def score() -> None:
        model.eval()
        curve.append(_curve_point(step, spent, _score(model.greedy, valid, tgt_tok)))
        model.train()

    while spent < 60 * minutes:
        for batch in bucketed_batches(
            src_lengths, tgt_lengths, settings.batch_size, settings.seed, epoch, pool_batches=1
        ):
            began = time.perf_counter()
            src, tgt = train.batch(batch)
            decoder_input, labels = teacher_forcing(tgt)
            loss = label_smoothed_cross_entropy(
                model(src, decoder_input), labels, settings.label_smoothing
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), settings.clip_norm)
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


def _first_sources(pairs: list[tuple[str, str]], limit: int | None) -> list[tuple[str, str]]:
    """The pairs of the first ``limit`` distinct English sentences (None: all pairs)."""
    if limit is None:
        return pairs
    keep = set(list(dict.fromkeys(e for e, _ in pairs))[:limit])
    return [p for p in pairs if p[0] in keep]


def _real_corpus(
    data_path: str | Path, test_limit: int | None = None, curve_sources: int = CURVE_SOURCES
) -> tuple[Any, Any, EncodedPairs, EncodedPairs, EncodedPairs]:
    """``(src_tok, tgt_tok, train, valid, test)`` for the real corpus: the split by English
    sentence that ``course-lib train`` makes, word tokenizers fitted on the training pairs,
    the pairs of the first ``curve_sources`` validation sources (for the BLEU curve) and of
    the first ``test_limit`` test sources (None: all)."""
    splits = data.split_by_source(data.read_pairs_tsv(data_path), **SPLIT)
    spec = recipe("small", "tatoeba")
    src_tok, tgt_tok = fit_tokenizers(splits.train, spec["tokenizer"])
    max_len = spec["model"]["max_len"]
    train = encode_pairs(splits.train, src_tok, tgt_tok, max_len, "train")
    valid, test = (
        encode_pairs(_first_sources(pairs, limit), src_tok, tgt_tok, max_len, name)
        for pairs, limit, name in (
            (splits.valid, curve_sources, "valid"),
            (splits.test, test_limit, "test"),
        )
    )
    return src_tok, tgt_tok, train, valid, test


class _CurveTrainer(Trainer):
    """A Trainer whose periodic validation is the benchmark's own scoring (greedy decoding,
    sacrebleu against all references) on a fixed validation sample, so that the course's
    curve and the baseline's are measured the same way. Validation time is not training
    time (Trainer does not count it)."""

    def validate(self):
        self.model.eval()
        scores = _score(
            lambda src, n: _course_greedy(self.model, src, n), self.valid_data, self.tgt_tokenizer
        )
        self.model.train()
        record = _curve_point(self.step, self.train_seconds, scores)
        self.history.valid.append(record)
        return record


def _curve_point(step: int, seconds: float, scores: dict[str, Any]) -> dict[str, Any]:
    return {
        "step": step,
        "train_seconds": round(seconds, 1),
        "bleu": round(scores["bleu"], 2),
        "chrf": round(scores["chrf"], 2),
    }


def _real_settings(minutes: float, seed: int) -> TrainSettings:
    """The real-corpus recipe with a wall-clock budget and no validation during training."""
    return TrainSettings(
        **{
            **REAL_TRAINING,
            "max_minutes": minutes,
            "seed": seed,
            "device": "cpu",
            "progress": False,
            "eval_every": 10**9,
        }
    )


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
    its plain recipe); score both on the test split.

    Returns ``real_bleu_10min``, ``real_chrf_10min``, ``torch_real_bleu_10min``,
    ``torch_real_chrf_10min`` (the key names keep "10min" whatever ``minutes`` is; the
    budget used is in ``minutes``), steps, seconds and example translations.
    """
    info = _machine(threads)
    src_tok, tgt_tok, train, valid, test = _real_corpus(data_path, test_limit)
    max_len = SMALL_MODEL["max_len"]
    settings = _real_settings(minutes, seed)
    result: dict[str, Any] = {
        "minutes": minutes,
        "data": str(data_path),
        "train_pairs": len(train),
        "test_sources": len({e for e, _ in test.pairs}),
        "src_vocab": src_tok.vocab_size,
        "tgt_vocab": tgt_tok.vocab_size,
        "settings": settings.to_dict(),
        "curve_every": CURVE_EVERY,
        "curve_sources": len({e for e, _ in valid.pairs}),
        **info,
    }

    if course:
        model, config = build_model(src_tok, tgt_tok, dict(SMALL_MODEL), seed=seed)
        curve_settings = TrainSettings(**{**settings.to_dict(), "eval_every": CURVE_EVERY})
        trainer = _CurveTrainer(model, src_tok, tgt_tok, train, valid, curve_settings)
        history = trainer.fit()
        model.eval()
        ours = _score(lambda src, n: _course_greedy(model, src, n), test, tgt_tok)
        result.update(
            real_bleu_10min=ours["bleu"],
            real_chrf_10min=ours["chrf"],
            real_exact_match=ours["exact_match"],
            real_steps=trainer.step,
            real_train_seconds=trainer.train_seconds,
            real_parameters=model.num_parameters(),
            real_config=config.to_dict(),
            real_curve=history.valid,
            real_examples=ours["examples"],
            sacrebleu_signature=ours["signature"],
        )
    if baseline:
        torch.manual_seed(seed)
        peer = TorchBaseline(src_tok.vocab_size, tgt_tok.vocab_size, max_len=max_len)
        run = _train_baseline(peer, train, settings, minutes, valid, tgt_tok)
        theirs = _score(peer.greedy, test, tgt_tok)
        result.update(
            torch_real_bleu_10min=theirs["bleu"],
            torch_real_chrf_10min=theirs["chrf"],
            torch_real_exact_match=theirs["exact_match"],
            torch_real_steps=run["steps"],
            torch_real_train_seconds=run["train_seconds"],
            torch_real_parameters=sum(p.numel() for p in peer.parameters()),
            torch_real_examples=theirs["examples"],
            torch_real_curve=run["curve"],
        )
    return result


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
    batches and seed) trained for ``minutes`` of CPU time each (of the training steps, so
    the budget does not depend on the machine's load; use one thread) on the real corpus
    sample, scored on (the first ``test_limit`` sources of) its test split; and on the
    bundled corpus, the held-out exact match after ``toy_steps`` steps."""
    info = _machine(threads)
    src_tok, tgt_tok, train, valid, test = _real_corpus(data_path, test_limit)
    settings = _real_settings(minutes, seed)
    corpus = data.make_toy_corpus()
    toy_spec = recipe("small", "toy")
    toy_src, toy_tgt = fit_tokenizers(corpus.train, toy_spec["tokenizer"])
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
        model, _ = build_model(src_tok, tgt_tok, {**SMALL_MODEL, **overrides}, seed=seed)
        trainer = _CpuBudgetTrainer(model, src_tok, tgt_tok, train, None, settings)
        trainer.fit()
        scores = _score(lambda src, n, m=model: _course_greedy(m, src, n), test, tgt_tok)
        toy_model, _ = build_model(toy_src, toy_tgt, {**SMALL_MODEL, **overrides}, seed=seed)
        toy = Trainer(toy_model, toy_src, toy_tgt, corpus.train, corpus.test, toy_settings)
        toy_history = toy.fit()
        rows.append(
            {
                "config": name,
                "parameters": model.num_parameters(),
                "real_steps": trainer.step,
                "real_train_seconds": round(trainer.train_seconds, 1),
                "real_train_cpu_seconds": round(trainer.cpu_seconds, 1),
                "real_bleu": round(scores["bleu"], 2),
                "real_chrf": round(scores["chrf"], 2),
                "toy_steps": toy.step,
                "toy_exact_match_by_step": {
                    r["step"]: round(r["exact_match"], 4) for r in toy_history.valid
                },
            }
        )
    return {
        "minutes": minutes,
        "budget": "CPU time of the training steps",
        "test_sources": len({e for e, _ in test.pairs}),
        "rows": rows,
        **info,
    }


#: The recipe ablation: from nn.Transformer's defaults to the course's recipe, one change
#: per row (model fields on top of SMALL_MODEL, batches per length-sorted pool).
ABLATION: dict[str, tuple[dict[str, Any], int]] = {
    "post-norm, untied, random batches (nn.Transformer's defaults)": (
        {"norm_first": False, "tie_embeddings": False},
        1,
    ),
    "+ bucketed batches": ({"norm_first": False, "tie_embeddings": False}, 50),
    "+ pre-norm": ({"tie_embeddings": False}, 50),
    "+ output layer tied to the French embedding (the course's recipe)": ({}, 50),
}


def run_ablation_row(
    name: str,
    minutes: float = 3.0,
    data_path: str | Path = DEFAULT_DATA,
    threads: int | None = None,
    seed: int = 0,
    test_limit: int | None = 500,
) -> dict[str, Any]:
    """Train one row of :data:`ABLATION` for ``minutes`` on the real corpus and score it on
    (the first ``test_limit`` sources of) the test split. Rows run one per process, so the
    runner can train two at a time, one core each."""
    if name not in ABLATION:
        raise SystemExit(f"unknown ablation row {name!r}; choose from {list(ABLATION)}")
    overrides, pool_batches = ABLATION[name]
    info = _machine(threads)
    src_tok, tgt_tok, train, valid, test = _real_corpus(data_path, test_limit)
    model, _ = build_model(src_tok, tgt_tok, {**SMALL_MODEL, **overrides}, seed=seed)
    trainer = Trainer(model, src_tok, tgt_tok, train, None, _real_settings(minutes, seed))
    trainer.pool_batches = pool_batches
    trainer.fit()
    model.eval()
    scores = _score(lambda src, n: _course_greedy(model, src, n), test, tgt_tok)
    return {
        "config": name,
        "minutes": minutes,
        "test_sources": scores["n"],
        "parameters": model.num_parameters(),
        "steps": trainer.step,
        "train_seconds": round(trainer.train_seconds, 1),
        "bleu": round(scores["bleu"], 2),
        "chrf": round(scores["chrf"], 2),
        "torch_threads": info["torch_threads"],
    }


def _course_greedy(model, src: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
    from course_lib.train import greedy_tokens

    return greedy_tokens(model, src, min(max_new_tokens, model.config.max_len))


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
