"""Train a translation model and write checkpoints.

Examples:
  course-lib train --corpus toy --out runs/toy                # the bundled corpus, ~1.5 minutes
  course-lib train --corpus tatoeba --out runs/fr --minutes 10
  course-lib train --corpus my_pairs.tsv --out runs/mine --steps 5000 --device cuda
  course-lib train --corpus toy --out runs/toy --resume --steps 2000   # continue a run
  course-lib train --corpus toy --out runs/toy0.1 --dropout 0.1   # the paper's dropout
  torchrun --nproc_per_node=4 -m course_lib.cli train --corpus tatoeba --out runs/ddp

Corpora:
  toy      the bundled grammar corpus (no download); held-out verb-noun combinations,
           "I hate pizza" among them, are the test set
  tatoeba  Tatoeba English-French (downloaded once and cached), split by English sentence
  PATH     a UTF-8 TSV of English<TAB>French[<TAB>...] lines, split by English sentence

Writes to --out: checkpoint.pt (after each validation or every --checkpoint-every steps, at
the end, and on Ctrl-C: the first Ctrl-C stops after the current step and saves; a second
one aborts), with --weights-dtype float16 also model.pt (translation only, half the size), and
metrics.json (settings, history, final validation and test scores). Budgets (--steps,
--minutes) count the whole run, so with --resume they say where to stop in total.
Under torchrun every process trains on its share of each batch; only rank 0 prints and
writes files.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from course_lib import data
from course_lib.batching import encode_pairs
from course_lib.callbacks import Callback
from course_lib.checkpoint import load_checkpoint, save_checkpoint
from course_lib.distributed import DistributedContext
from course_lib.errors import CourseLibError
from course_lib.evaluate import evaluate
from course_lib.files import CHECKPOINT_FILE, HALF_PRECISION_FILE, METRICS_FILE, atomic_write_json
from course_lib.loss import heldout_loss
from course_lib.recipes import SPLIT, build_model, fit_tokenizers, recipe
from course_lib.trainer import Trainer, TrainSettings
from course_lib.translate import Translator

#: Options written into the recorded command line when given (besides corpus, out, config...).
RECORDED_OPTIONS = (
    "minutes steps seed batch_size eval_every checkpoint_every precision tokenizer dropout threads"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--corpus",
        default="toy",
        metavar="toy|tatoeba|PATH",
        help="what to train on (default: toy, the bundled corpus)",
    )
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="directory for checkpoint.pt and metrics.json"
    )
    parser.add_argument(
        "--config",
        default="small",
        metavar="small|base|FILE.json",
        help="model size: 'small' (the course's CPU recipe, default), 'base' "
        "(the paper's), or a JSON file of TransformerConfig fields, "
        "optionally with a 'training' object of TrainSettings fields",
    )
    parser.add_argument(
        "--minutes", type=float, default=None, metavar="M", help="stop after M minutes of training"
    )
    parser.add_argument(
        "--steps", type=int, default=None, metavar="N", help="stop after N optimiser steps"
    )
    parser.add_argument(
        "--device",
        default="auto",
        choices=["auto", "cpu", "cuda", "mps"],
        help="where to train (auto: CUDA, then MPS, then CPU)",
    )
    parser.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint.pt")
    parser.add_argument("--seed", type=int, default=None, metavar="S", help="random seed (0)")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        metavar="B",
        help="sentence pairs per step, over all processes",
    )
    parser.add_argument(
        "--eval-every", type=int, default=None, metavar="N", help="validate every N steps"
    )
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        default=None,
        metavar="N",
        help="write checkpoint.pt every N steps (default: at validation)",
    )
    parser.add_argument(
        "--precision",
        default=None,
        choices=["auto", "fp32", "bf16", "fp16"],
        help="mixed precision (auto: bf16/fp16 on a GPU, bf16 on a CPU that has it, else fp32)",
    )
    parser.add_argument(
        "--tokenizer",
        default=None,
        choices=["word", "bpe"],
        help="word-level (default) or BPE sub-words",
    )
    parser.add_argument(
        "--dropout", type=float, default=None, metavar="P", help="dropout rate (recipe: 0)"
    )
    parser.add_argument(
        "--weights-dtype",
        default="float32",
        choices=["float32", "float16"],
        help="also write model.pt, translation-only, with weights in this "
        "dtype (float16 halves its size)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="CPU threads for PyTorch (default: all cores; 1 is often faster on a busy machine)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


# ----------------------------------------------------------------------------------------
# Inputs: output directory, corpus, config
# ----------------------------------------------------------------------------------------


def check_output_dir(out: str | Path) -> Path:
    """Create ``out`` if needed and make sure a file can be written in it."""
    path = Path(out).expanduser()
    if path.exists() and not path.is_dir():
        raise CourseLibError(f"output path {path} exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise CourseLibError(f"cannot write to the output directory {path}: {reason}") from None
    return path


def load_corpus(corpus: str) -> dict[str, Any]:
    """``{"train", "valid", "test", "generalisation", "name", "split"}`` for a corpus name."""
    if corpus == "toy":
        toy = data.make_toy_corpus()
        splits = {"train": toy.train, "valid": toy.valid, "test": toy.test}
        return {**splits, "generalisation": toy.generalisation, "name": "toy", "split": None}
    if corpus == "tatoeba":
        pairs = data.load_tatoeba()
        name = "tatoeba"
    else:
        path = Path(corpus).expanduser()
        if not path.exists():
            raise CourseLibError(
                f"corpus not found: {corpus!r} is neither 'toy', 'tatoeba' nor an existing file"
            )
        pairs = data.read_pairs_tsv(path)
        name = str(path)
    splits = data.split_by_source(pairs, **SPLIT)
    if not splits.train:
        raise CourseLibError(
            f"corpus {name} has too few sentences to train on ({len(pairs)} pairs)"
        )
    return {
        "train": splits.train,
        "valid": splits.valid or None,
        "test": splits.test,
        "generalisation": [],
        "name": name,
        "split": dict(SPLIT),
    }


def apply_arguments(settings: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Command-line options override recipe and file settings."""
    mapping = {
        "steps": "max_steps",
        "minutes": "max_minutes",
        "seed": "seed",
        "batch_size": "batch_size",
        "eval_every": "eval_every",
        "checkpoint_every": "checkpoint_every",
        "precision": "precision",
    }
    for option, key in mapping.items():
        value = getattr(args, option)
        if value is not None:
            settings[key] = value
    if args.steps is not None and args.minutes is None:
        settings["max_minutes"] = None
    if args.minutes is not None and args.steps is None:
        settings["max_steps"] = None
    settings["device"] = args.device
    settings["progress"] = not args.quiet
    return settings


# ----------------------------------------------------------------------------------------
# The command
# ----------------------------------------------------------------------------------------


def command_line(args: argparse.Namespace) -> str:
    """The ``course-lib train ...`` command that reproduces this run (recorded in checkpoints)."""
    parts = ["course-lib", "train", "--corpus", args.corpus, "--out", str(args.out)]
    if args.config != "small":
        parts += ["--config", args.config]
    for option in RECORDED_OPTIONS.split():
        value = getattr(args, option)
        if value is not None:
            parts += ["--" + option.replace("_", "-"), str(value)]
    if args.device != "auto":
        parts += ["--device", args.device]
    if args.weights_dtype != "float32":
        parts += ["--weights-dtype", args.weights_dtype]
    if args.resume:
        parts.append("--resume")
    return " ".join(shlex.quote(part) for part in parts)


def _validate_args(args: argparse.Namespace) -> None:
    for name in ("steps", "batch_size", "eval_every", "checkpoint_every", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise CourseLibError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if args.minutes is not None and not args.minutes > 0:
        raise CourseLibError(f"--minutes must be positive, got {args.minutes}")
    if args.resume and args.dropout is not None:
        raise CourseLibError("--dropout builds a new model; --resume keeps the checkpoint's")


class Report(Callback):
    """Prints the start of training and each validation (main process only)."""

    def __init__(self, corpus_name: str, progress: bool):
        self.corpus_name = corpus_name
        self.progress = progress

    def on_start(self, trainer: Trainer) -> None:
        context = trainer.context
        print(
            f"training on {self.corpus_name}: {len(trainer.train_data)} pairs, "
            f"{trainer.model.num_parameters():,} parameters, device {context.device}"
            + (f", {context.world_size} processes" if context.distributed else "")
            + " (Ctrl-C stops and saves a checkpoint)",
            flush=True,
        )

    def on_eval(self, trainer: Trainer, record: dict[str, Any]) -> None:
        text = (
            f"step {record['step']}: valid loss {record['loss']:.3f}, exact match "
            f"{100 * record.get('exact_match', 0):.1f}%, BLEU {record.get('bleu', 0):.1f}"
        )
        if self.progress:
            tqdm.write(text)
        else:
            print(text, flush=True)


def held_out_scores(
    trainer: Trainer, pairs: list[tuple[str, str]], name: str
) -> tuple[dict[str, Any], float]:
    """``(scores, loss)`` of the trained model on ``pairs``: the scores exactly as
    ``course-lib evaluate`` computes them (:func:`course_lib.evaluate.evaluate`, greedy, on
    the raw pairs), and the teacher-forced loss on the pairs that fit the model."""
    model, src_tok, tgt_tok = trainer.model, trainer.src_tokenizer, trainer.tgt_tokenizer
    scores = evaluate(Translator(model, src_tok, tgt_tok), pairs).to_dict()
    encoded = encode_pairs(pairs, src_tok, tgt_tok, model.config.max_len, name)
    loss = heldout_loss(model, encoded, trainer.settings.label_smoothing, device=trainer.device)
    return scores, loss


def run(args: argparse.Namespace) -> int:
    _validate_args(args)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    out = check_output_dir(args.out)
    corpus = load_corpus(args.corpus)
    context = DistributedContext.from_env(args.device)
    say = print if context.is_main else (lambda *a, **k: None)
    command = command_line(args)
    try:
        if args.resume:
            checkpoint_file = out / CHECKPOINT_FILE
            if not checkpoint_file.is_file():
                raise CourseLibError(f"--resume: nothing to resume, no {CHECKPOINT_FILE} in {out}")
            checkpoint = load_checkpoint(checkpoint_file)
            settings_dict = dict(checkpoint.training.get("settings") or {})
            model, src_tok, tgt_tok = (
                checkpoint.model,
                checkpoint.src_tokenizer,
                checkpoint.tgt_tokenizer,
            )
            model.train()
        else:
            checkpoint = None
            spec = recipe(args.config, corpus["name"], args.tokenizer)
            src_tok, tgt_tok = fit_tokenizers(corpus["train"], spec["tokenizer"])
            model, _ = build_model(
                src_tok,
                tgt_tok,
                {**spec["model"], **({} if args.dropout is None else {"dropout": args.dropout})},
                seed=args.seed if args.seed is not None else 0,
            )
            settings_dict = dict(spec["training"])
        settings = TrainSettings.from_dict(apply_arguments(settings_dict, args))
        metadata = {
            "command": command,
            "corpus": corpus["name"],
            "split": corpus["split"],
            "source_format": "token ids without <start>/<end>",
        }
        trainer = Trainer(
            model,
            src_tok,
            tgt_tok,
            corpus["train"],
            corpus["valid"],
            settings,
            out,
            context=context,
            callbacks=[Report(corpus["name"], settings.progress)] if context.is_main else [],
            metadata=metadata,
        )
        if checkpoint is not None:
            trainer.load_state(checkpoint)
            say(f"resuming from {out / CHECKPOINT_FILE} at step {trainer.step}")
        began = time.perf_counter()
        history = trainer.fit()
        if history.stopped == "interrupted":
            say(
                f"interrupted at step {trainer.step}; checkpoint saved to {out / CHECKPOINT_FILE}",
                file=sys.stderr,
            )
            return 130
        if not context.is_main:
            return 0
        metrics: dict[str, Any] = {
            "corpus": corpus["name"],
            "command": command,
            "steps": trainer.step,
            "train_seconds": round(trainer.train_seconds, 2),
            "wall_seconds": round(time.perf_counter() - began, 2),
            "stopped": history.stopped,
            "device": str(context.device),
            "processes": context.world_size,
            "parameters": model.num_parameters(),
            "config": model.config.to_dict(),
            "settings": settings.to_dict(),
            "valid": history.valid[-1] if history.valid else None,
        }
        for name in ("test", "generalisation"):
            if corpus[name]:
                metrics[name], metrics[f"{name}_loss"] = held_out_scores(
                    trainer, corpus[name], name
                )
        metrics["history"] = history.to_dict()
        atomic_write_json(out / METRICS_FILE, metrics)
        if args.weights_dtype == "float16":
            save_checkpoint(
                out / HALF_PRECISION_FILE,
                model,
                src_tokenizer=src_tok,
                tgt_tokenizer=tgt_tok,
                training={"step": trainer.step},
                save_rng=False,
                metrics={k: metrics[k] for k in ("test", "valid") if metrics.get(k)},
                metadata=metadata,
                weights_dtype=torch.float16,
            )
        test = metrics.get("test")
        summary = f"done: {trainer.step} steps in {trainer.train_seconds:.0f} s of training"
        if test:
            summary += (
                f"; test exact match {100 * test['exact_match']:.1f}%, "
                f"BLEU {test['bleu']:.1f}, chrF {test['chrf']:.1f}"
            )
        say(summary)
        say(f"wrote {out / CHECKPOINT_FILE} and {out / METRICS_FILE}")
        return 0
    finally:
        context.close()
