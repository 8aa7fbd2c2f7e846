"""Export a trained model for the browser: two ONNX graphs, the vocabularies, the tokenizer
rules and a manifest (``course-lib export``).

    checkpoint --export--> encoder.onnx    src (batch, src_len) int64
                                               -> memory (batch, src_len, d_model)
                           decoder.onnx    tgt (batch, tgt_len) int64, memory, src
                                               -> logits (batch, tgt_vocab) of the LAST position,
                                                  cross_attention (batch, layers, heads, src_len)
                           vocab.json      both vocabularies (``WordTokenizer.to_dict()``)
                           tokenizer.json  the tokenizer's rules as data (regular expressions,
                                           normalisation, French spacing)
                           manifest.json   config, checkpoint SHA-256, course version, files
                           translator.js, tokenizer.js   the page's JavaScript (course_lib/web/)

The decoder graph has **no key/value cache**: each step feeds the whole prefix
``<start> w1 .. wt`` again (chapter 5's uncached loop) and reads the last position's
logits. For sentences of a dozen words that costs nothing noticeable and keeps the graph a
plain function that a loop of a few lines (Python: :mod:`course_lib.onnx_translator`;
JavaScript: ``web/translator.js``) can drive. Its second output is the cross-attention of
that last position in every layer and head; the page averages it over layers and heads,
as chapter 7's pictures (``Alignment.average()``) do.

The graphs come from PyTorch's TorchScript-based exporter (``torch.onnx.export(...,
dynamo=False)``, opset 17) with dynamic batch and sequence axes.
"""

from __future__ import annotations

import importlib.resources
import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from course_lib import __version__
from course_lib import checkpoint as checkpoints
from course_lib.attention import AttentionWeights
from course_lib.errors import CourseLibError
from course_lib.files import sha256_of
from course_lib.masks import padding_mask
from course_lib.model import Transformer
from course_lib.tokenize import PAD, SPECIAL_TOKENS, START, WordTokenizer
from course_lib.tokenize import words as tk
from course_lib.translate import load_checkpoint_or_bundled

FORMAT = "course_lib.onnx_translator"
FORMAT_VERSION = 1
OPSET = 17
FILES = {
    "encoder": "encoder.onnx",
    "decoder": "decoder.onnx",
    "vocab": "vocab.json",
    "tokenizer": "tokenizer.json",
}
MANIFEST = "manifest.json"
WEB_FILES = ("translator.js", "tokenizer.js")


class EncoderGraph(nn.Module):
    """``src (batch, src_len)`` int64 -> ``memory (batch, src_len, d_model)``."""

    def __init__(self, model: Transformer):
        super().__init__()
        self.model = model

    def forward(self, src: torch.Tensor) -> torch.Tensor:
        return self.model.encode(src)


class DecoderStepGraph(nn.Module):
    """One greedy step on the whole prefix (no cache).

    Shapes: ``tgt (batch, tgt_len)`` int64 (``<start>`` and the words so far), ``memory
    (batch, src_len, d_model)``, ``src (batch, src_len)`` int64 (for its padding mask) ->
    ``logits (batch, tgt_vocab)`` for the word after ``tgt[:, -1]`` and
    ``cross_attention (batch, layers, heads, src_len)`` of that last position.
    """

    def __init__(self, model: Transformer):
        super().__init__()
        self.model = model

    def forward(
        self, tgt: torch.Tensor, memory: torch.Tensor, src: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        src_mask = padding_mask(src, self.model.config.pad_id)  # (batch, 1, 1, src_len)
        # The causal mask from tensor operations only, so that its size follows tgt_len in
        # the graph: position i may see j when j <= i. (batch, 1, tgt_len, tgt_len)
        position = torch.ones_like(tgt).cumsum(dim=-1)  # (batch, tgt_len): 1 .. tgt_len
        causal = (position[:, None, :] <= position[:, :, None])[:, None]
        weights = AttentionWeights()
        logits = self.model.decode(tgt, memory, src_mask, tgt_mask=causal, weights=weights)
        cross = torch.stack([w[:, :, -1, :] for w in weights.cross], dim=1)
        return logits[:, -1, :], cross


def tokenizer_rules() -> dict[str, Any]:
    """The word tokenizers' rules as plain data, for a JavaScript copy of them.

    The patterns are Python's; ``web/tokenizer.js`` turns Python's Unicode ``\\w``, ``\\d``
    and ``\\b`` into their JavaScript spelling. ``tests/test_export.py`` checks that the
    JavaScript gives the Python tokens on every sentence of the bundled corpus.
    """
    return {
        "format": "course_lib.tokenizer_rules",
        "version": 1,
        "unicode_normalisation": "NFC",
        "lowercase": True,
        "replace": {chr(k): v for k, v in tk._NORMALISE.items()},
        "en_pattern": tk._EN_TOKEN_RE.pattern,
        "fr_pattern": tk._FR_TOKEN_RE.pattern,
        "fr_clitic": tk._FR_CLITIC,
        "fr_no_space_before": sorted(tk._NO_SPACE_BEFORE),
        "fr_no_space_after": sorted(tk._NO_SPACE_AFTER),
        "capitalise_after": tk._CAPITALISE_AFTER.pattern,
        "special_tokens": list(SPECIAL_TOKENS),
    }


def checkpoint_file(where: str | Path) -> Path:
    """The file behind ``"bundled"``, a run directory or a checkpoint file."""
    if str(where) == "bundled":
        return checkpoints.bundled_path()
    return checkpoints.resolve_checkpoint_path(where)


def _prepare_out(out: str | Path) -> Path:
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise CourseLibError(f"--out {out} exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".course-lib-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise CourseLibError(
            f"cannot write to the output directory {out}: {error.strerror}"
        ) from None
    return out


def _onnx_export(module: nn.Module, args: tuple, path: Path, names: dict[str, dict]) -> None:
    """``torch.onnx.export`` (TorchScript exporter) with named, dynamic axes; quiet."""
    inputs = [name for name in names if not name.startswith("out:")]
    outputs = [name[4:] for name in names if name.startswith("out:")]
    axes = {name.removeprefix("out:"): dims for name, dims in names.items()}
    with warnings.catch_warnings():
        # The model's input checks turn shapes into Python numbers: the tracer warns that
        # they become constants, which is what we want (they only raise on bad input).
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module.eval(),
            args,
            str(path),
            dynamo=False,
            opset_version=OPSET,
            input_names=inputs,
            output_names=outputs,
            dynamic_axes=axes,
        )


def export_graphs(model: Transformer, out: Path) -> None:
    """Write ``encoder.onnx`` and ``decoder.onnx`` for ``model`` into ``out``.

    Traced on "I love pizza"-sized dummy input; every axis but ``d_model``, ``layers``,
    ``heads`` and the vocabulary is dynamic. The model's training flag is restored.
    """
    was_training = model.training
    model.eval()
    try:
        src = torch.tensor([[4, 5, 6]], dtype=torch.long)  # (1, 3)
        tgt = torch.tensor([[1, 4, 5, 6]], dtype=torch.long)  # (1, 4)
        with torch.no_grad():
            memory = model.encode(src)
        batch_src = {0: "batch", 1: "src_len"}
        _onnx_export(
            EncoderGraph(model),
            (src,),
            out / FILES["encoder"],
            {"src": batch_src, "out:memory": batch_src},
        )
        _onnx_export(
            DecoderStepGraph(model),
            (tgt, memory, src),
            out / FILES["decoder"],
            {
                "tgt": {0: "batch", 1: "tgt_len"},
                "memory": batch_src,
                "src": batch_src,
                "out:logits": {0: "batch"},
                "out:cross_attention": {0: "batch", 3: "src_len"},
            },
        )
    finally:
        model.train(was_training)


def _copy_web_files(out: Path) -> None:
    web = importlib.resources.files("course_lib") / "web"
    for name in WEB_FILES:
        with importlib.resources.as_file(web / name) as source:
            shutil.copyfile(source, out / name)


def export_translator(checkpoint: str | Path, out: str | Path, web: bool = True) -> dict:
    """Export ``checkpoint`` (``"bundled"``, a run directory or a file) into the folder ``out``.

    Writes the files listed in the module docstring (the JavaScript only when ``web``) and
    returns the manifest. Errors (missing or damaged checkpoint, a BPE tokenizer, an
    output path that is a file or not writable) raise :class:`CourseLibError`.
    """
    loaded = load_checkpoint_or_bundled(checkpoint)
    for side in ("src_tokenizer", "tgt_tokenizer"):
        if not isinstance(getattr(loaded, side), WordTokenizer):
            raise CourseLibError(
                f"only word-level tokenizers can be exported for the browser; the checkpoint's "
                f"{side} is {type(getattr(loaded, side)).__name__}"
            )
    out = _prepare_out(out)
    export_graphs(loaded.model, out)
    vocab = {"src": loaded.src_tokenizer.to_dict(), "tgt": loaded.tgt_tokenizer.to_dict()}
    (out / FILES["vocab"]).write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    rules = json.dumps(tokenizer_rules(), ensure_ascii=False, indent=1)
    (out / FILES["tokenizer"]).write_text(rules, encoding="utf-8")
    source = checkpoint_file(checkpoint)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "course_lib_version": __version__,
        "torch_version": torch.__version__.split("+")[0],
        "opset": OPSET,
        "checkpoint": {
            "name": "bundled" if str(checkpoint) == "bundled" else str(checkpoint),
            "file": source.name,
            "sha256": sha256_of(source),
            "metadata": {
                k: v
                for k, v in loaded.metadata.items()
                if k in ("command", "corpus", "step") and isinstance(v, (str, int, float))
            },
        },
        "config": loaded.model.config.to_dict(),
        "files": dict(FILES),
        "bytes": {key: (out / name).stat().st_size for key, name in FILES.items()},
        "decoding": {
            "strategy": "greedy, whole prefix re-run at every step (no key/value cache)",
            "max_new_tokens": "min(max_len - 1, 2 * src_len + 10)",
            "never_generated": [SPECIAL_TOKENS[PAD], SPECIAL_TOKENS[START]],
            "cross_attention": "decoder output (layers, heads, src_len) of the last position; "
            "the page shows its mean over all layers and heads (chapter 7)",
        },
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False), "utf-8")
    if web:
        _copy_web_files(out)
    return manifest
