"""Step 7: inference - translate sentences the model never saw, score them, look inside.

    "I hate pizza" --tokenise--> ids --encode--> memory --greedy/beam--> ids --detokenise-->
    "Je déteste la pizza"

Three pieces, each usable alone:

* :func:`translate` (and :class:`Translator`, which bundles a model with its two
  tokenizers, e.g. from a checkpoint): strings in, strings out, in batches.
* :func:`score` and :func:`evaluate`: BLEU and chrF with sacrebleu (any number of
  references per sentence) and exact match, with the sacrebleu signature that says how
  the numbers were computed.
* :func:`cross_attention` and the plots: which English words each French word looked at,
  for every layer and head, and averaged.

Input rules of :func:`translate` (tested in ``tests/test_translate.py``):

* an empty or whitespace-only sentence translates to ``""`` and the model is not run for it;
* a word the source vocabulary does not know becomes ``<unk>``; the sentence is still
  translated (usually badly: that is the model's honest answer);
* a sentence longer than the model's ``max_len`` raises :class:`CourseLibError` naming the
  sentence and the limit, unless ``truncate=True``, which keeps its first ``max_len``
  tokens (documented truncation: the end of the sentence is not translated).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from course_lib.batching import pad_sequences
from course_lib.data import group_references
from course_lib.errors import CourseLibError
from course_lib.model import Transformer
from course_lib.tokenize import END, PAD, START

# ----------------------------------------------------------------------------------------
# Translating
# ----------------------------------------------------------------------------------------


def _check_sentences(sentences: Any) -> tuple[list[str], bool]:
    """Return ``(list_of_sentences, was_a_single_string)`` or raise a clear error."""
    if isinstance(sentences, str):
        return [sentences], True
    if not isinstance(sentences, (list, tuple)):
        raise CourseLibError(
            f"sentences must be a string or a list of strings, got {type(sentences).__name__}"
        )
    for i, sentence in enumerate(sentences):
        if not isinstance(sentence, str):
            raise CourseLibError(
                f"sentences[{i}] must be a string, got {type(sentence).__name__}: {sentence!r:.60}"
            )
    return list(sentences), False


def _check_tokenizer(tokenizer: Any, name: str) -> None:
    if not (hasattr(tokenizer, "encode") and hasattr(tokenizer, "decode")):
        raise CourseLibError(
            f"{name} must be a tokenizer with encode() and decode() "
            f"(e.g. course_lib.tokenize.WordTokenizer), got {type(tokenizer).__name__}"
        )


def _check_positive_int(value: Any, name: str, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise CourseLibError(f"{name} must be a positive integer, got {value!r}")


def _model_device(model: Transformer) -> torch.device:
    return next(model.parameters()).device


def encode_sources(
    sentences: Sequence[str],
    src_tokenizer: Any,
    max_len: int,
    truncate: bool = False,
) -> list[list[int]]:
    """Token ids for each source sentence, exactly as the training batches encode them.

    Returns one list of ids per sentence (an empty list for an empty or whitespace-only
    sentence). A sentence with more than ``max_len`` tokens raises
    :class:`CourseLibError` naming it and the limit, or is cut to its first ``max_len``
    tokens when ``truncate`` is true.
    """
    encoded = []
    for i, sentence in enumerate(sentences):
        if not sentence.strip():
            encoded.append([])
            continue
        ids = list(src_tokenizer.encode(sentence))
        if len(ids) > max_len:
            if not truncate:
                raise CourseLibError(
                    f"sentence {i} has {len(ids)} tokens, more than the model's maximum length "
                    f"max_len={max_len} ({sentence[:40]!r}...); shorten it or pass "
                    f"truncate=True to translate only its first {max_len} tokens"
                )
            ids = ids[:max_len]
        encoded.append(ids)
    return encoded


def strip_special(ids: Iterable[int]) -> list[int]:
    """Generated ids up to (not including) the first ``<end>`` or ``<pad>``; ``<start>`` dropped.

    ``[5, 9, 2, 0, 0]`` -> ``[5, 9]``.
    """
    kept = []
    for token in ids:
        token = int(token)
        if token in (END, PAD):
            break
        if token != START:
            kept.append(token)
    return kept


def default_max_new_tokens(src_len: int, max_len: int) -> int:
    """How many tokens to generate at most: twice the source plus 10, within ``max_len - 1``.

    French sentences are rarely more than twice as long as their English source; the
    decoder's ``<start>`` token takes one of the model's ``max_len`` positions.
    """
    return max(1, min(max_len - 1, 2 * src_len + 10))


def _generate(
    model: Transformer,
    src_ids: list[list[int]],
    beam_size: int,
    max_new_tokens: int | None,
    length_penalty: float,
) -> list[list[int]]:
    """Raw generated ids per sentence (``<end>`` and ``<pad>`` included)."""
    from course_lib.generate import beam_search, greedy_decode

    src = pad_sequences(src_ids).to(_model_device(model))  # (batch, src_len), <pad> = 0
    limit = max_new_tokens or default_max_new_tokens(src.size(1), model.config.max_len)
    if beam_size == 1:
        result = greedy_decode(model, src, max_new_tokens=limit)
    else:
        result = beam_search(
            model, src, beam_size=beam_size, max_new_tokens=limit, length_penalty=length_penalty
        )
    return result.tokens.tolist()


def translate_ids(
    model: Transformer,
    src_ids: list[list[int]],
    *,
    beam_size: int = 1,
    max_new_tokens: int | None = None,
    length_penalty: float = 0.6,
) -> list[list[int]]:
    """Translate lists of source ids (each non-empty); return French ids without specials.

    Shapes: the sentences are padded into one ``(batch, src_len)`` batch, decoded with
    :func:`course_lib.generate.greedy_decode` (``beam_size == 1``) or
    :func:`course_lib.generate.beam_search`, and each row is cut at its ``<end>``.
    """
    if not src_ids:
        return []
    if any(not ids for ids in src_ids):
        raise CourseLibError("translate_ids: every source must have at least one token")
    generated = _generate(model, src_ids, beam_size, max_new_tokens, length_penalty)
    return [strip_special(row) for row in generated]


def translate(
    model: Transformer,
    sentences: str | Sequence[str],
    src_tokenizer: Any,
    tgt_tokenizer: Any,
    *,
    beam_size: int = 1,
    max_new_tokens: int | None = None,
    length_penalty: float = 0.6,
    batch_size: int = 64,
    truncate: bool = False,
    progress: bool = False,
) -> str | list[str]:
    """Translate one English sentence (a ``str``) or many (a list): returns the same shape.

    Steps: tokenise with ``src_tokenizer`` -> pad into batches of ``batch_size`` sentences
    ``(batch, src_len)`` (sorted by length, so little padding) -> encode -> greedy search
    (``beam_size=1``) or beam search -> cut at ``<end>`` -> detokenise with
    ``tgt_tokenizer.decode`` (French spacing and elision: ``j' aime`` -> ``j'aime``).

    Args:
        model: a trained :class:`~course_lib.model.Transformer` (put in eval mode here and
            restored afterwards).
        sentences: a string or a list of strings.
        src_tokenizer, tgt_tokenizer: the English and French tokenizers it was trained with.
        beam_size: 1 for greedy decoding, more for beam search.
        max_new_tokens: most French tokens to generate per sentence; default
            :func:`default_max_new_tokens` of the batch's longest source.
        length_penalty: beam search's length normalisation exponent (unused when greedy).
        batch_size: sentences decoded together.
        truncate: cut sentences longer than ``model.config.max_len`` tokens instead of
            raising an error.
        progress: show a tqdm progress bar over batches.

    Empty or whitespace-only sentences give ``""`` (the model is not run for them);
    unknown words become ``<unk>``; too-long sentences raise :class:`CourseLibError`
    naming the sentence and the limit unless ``truncate``.
    """
    if not isinstance(model, Transformer):
        raise CourseLibError(
            f"model must be a course_lib.model.Transformer, got {type(model).__name__}"
        )
    items, single = _check_sentences(sentences)
    _check_tokenizer(src_tokenizer, "src_tokenizer")
    _check_tokenizer(tgt_tokenizer, "tgt_tokenizer")
    _check_positive_int(beam_size, "beam_size")
    _check_positive_int(batch_size, "batch_size")
    _check_positive_int(max_new_tokens, "max_new_tokens", allow_none=True)
    if max_new_tokens is not None and max_new_tokens > model.config.max_len:
        raise CourseLibError(
            f"max_new_tokens={max_new_tokens} is more than the model's "
            f"max_len={model.config.max_len} positions"
        )

    encoded = encode_sources(items, src_tokenizer, model.config.max_len, truncate)
    outputs = [""] * len(items)
    todo = sorted((i for i, ids in enumerate(encoded) if ids), key=lambda i: len(encoded[i]))
    batches = [todo[k : k + batch_size] for k in range(0, len(todo), batch_size)]
    if progress:
        from tqdm.auto import tqdm

        batches = tqdm(batches, desc="translating", unit="batch")

    was_training = model.training
    model.eval()
    try:
        for batch in batches:
            generated = translate_ids(
                model,
                [encoded[i] for i in batch],
                beam_size=beam_size,
                max_new_tokens=max_new_tokens,
                length_penalty=length_penalty,
            )
            for i, ids in zip(batch, generated):
                outputs[i] = tgt_tokenizer.decode(ids)
    finally:
        model.train(was_training)
    return outputs[0] if single else outputs


class Translator:
    """A model with its two tokenizers: ``Translator.load("bundled")("I hate pizza")``.

    ``translator(sentences, **options)`` and ``translator.translate(...)`` call
    :func:`translate` with the model and tokenizers filled in.
    """

    def __init__(self, model: Transformer, src_tokenizer: Any, tgt_tokenizer: Any):
        if not isinstance(model, Transformer):
            raise CourseLibError(
                f"model must be a course_lib.model.Transformer, got {type(model).__name__}"
            )
        _check_tokenizer(src_tokenizer, "src_tokenizer")
        _check_tokenizer(tgt_tokenizer, "tgt_tokenizer")
        self.model = model.eval()
        self.src_tokenizer = src_tokenizer
        self.tgt_tokenizer = tgt_tokenizer
        self.metadata: dict[str, Any] = {}

    @classmethod
    def from_checkpoint(cls, checkpoint: Any) -> Translator:
        """Build from a loaded checkpoint (``course_lib.checkpoint.load_checkpoint``'s result)."""
        for name in ("model", "src_tokenizer", "tgt_tokenizer"):
            if not hasattr(checkpoint, name):
                raise CourseLibError(
                    f"expected a loaded checkpoint with .model, .src_tokenizer and "
                    f".tgt_tokenizer, got {type(checkpoint).__name__} without .{name}"
                )
        translator = cls(checkpoint.model, checkpoint.src_tokenizer, checkpoint.tgt_tokenizer)
        translator.metadata = dict(getattr(checkpoint, "metadata", None) or {})
        return translator

    @classmethod
    def load(cls, where: str | Path = "bundled", device: str | torch.device = "cpu") -> Translator:
        """Load ``"bundled"`` (the checkpoint shipped with the package) or a checkpoint path.

        Any problem (missing path, truncated or corrupt file, mismatched contents) raises
        :class:`CourseLibError` with one line that names the checkpoint.
        """
        return cls.from_checkpoint(load_checkpoint_or_bundled(where, device))

    def translate(self, sentences: str | Sequence[str], **options: Any) -> str | list[str]:
        """:func:`translate` with this model and tokenizers."""
        return translate(self.model, sentences, self.src_tokenizer, self.tgt_tokenizer, **options)

    __call__ = translate

    def __repr__(self) -> str:
        config = self.model.config
        return (
            f"Translator(d_model={config.d_model}, layers={config.n_encoder_layers}+"
            f"{config.n_decoder_layers}, src_vocab={config.src_vocab_size}, "
            f"tgt_vocab={config.tgt_vocab_size})"
        )


def load_checkpoint_or_bundled(where: str | Path, device: str | torch.device = "cpu") -> Any:
    """``course_lib.checkpoint.load_bundled()`` for ``"bundled"``, else ``load_checkpoint(where)``.

    Returns the loaded checkpoint (``.model``, ``.src_tokenizer``, ``.tgt_tokenizer``,
    ``.config``, ``.metadata``). Every failure becomes one :class:`CourseLibError` line
    naming the checkpoint (the command-line tools print it without a traceback).
    """
    from course_lib import checkpoint as checkpoints

    if not isinstance(where, (str, Path)):
        raise CourseLibError(f"checkpoint must be 'bundled' or a path, got {type(where).__name__}")
    bundled = str(where) == "bundled"
    if not bundled and not Path(where).expanduser().exists():
        raise CourseLibError(f"checkpoint not found: {where} (no such file or directory)")
    try:
        if bundled:
            return checkpoints.load_bundled(device)
        return checkpoints.load_checkpoint(where, device)
    except CourseLibError:
        raise
    except Exception as error:  # a damaged file can fail anywhere inside torch.load
        text = str(error).strip()
        first_line = text.splitlines()[0][:160] if text else ""
        raise CourseLibError(
            f"could not load checkpoint {where}: {type(error).__name__}: {first_line}"
        ) from None


# ----------------------------------------------------------------------------------------
# Scoring
# ----------------------------------------------------------------------------------------


def normalize_whitespace(text: str) -> str:
    """Collapse runs of whitespace to one space and strip the ends: ``" a  b "`` -> ``"a b"``."""
    return " ".join(text.split())


def exact_match(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """Fraction (0-1) of hypotheses equal to at least one of their references.

    ``references[i]`` lists the acceptable translations of sentence ``i``. Whitespace is
    normalised (``normalize_whitespace``); case and punctuation count.
    """
    _check_hypotheses_references(hypotheses, references)
    hits = 0
    for hypothesis, refs in zip(hypotheses, references):
        hypothesis = normalize_whitespace(hypothesis)
        hits += any(hypothesis == normalize_whitespace(ref) for ref in refs)
    return hits / len(hypotheses)


def _check_hypotheses_references(hypotheses: Any, references: Any) -> None:
    if not isinstance(hypotheses, (list, tuple)) or not all(isinstance(h, str) for h in hypotheses):
        raise CourseLibError("hypotheses must be a list of strings")
    if not isinstance(references, (list, tuple)):
        raise CourseLibError(
            "references must be a list with one list of reference strings per hypothesis"
        )
    if len(hypotheses) == 0:
        raise CourseLibError("cannot score an empty list of hypotheses")
    if len(references) != len(hypotheses):
        raise CourseLibError(
            f"got {len(hypotheses)} hypotheses but {len(references)} reference lists; "
            f"give one list of references per hypothesis"
        )
    for i, refs in enumerate(references):
        if isinstance(refs, str) or not isinstance(refs, (list, tuple)) or not refs:
            raise CourseLibError(
                f"references[{i}] must be a non-empty list of strings, got {refs!r:.60}"
            )
        if not all(isinstance(r, str) for r in refs):
            raise CourseLibError(f"references[{i}] must contain only strings, got {refs!r:.60}")


def reference_streams(references: Sequence[Sequence[str]]) -> list[list[str | None]]:
    """Per-sentence reference lists -> sacrebleu's reference *streams*.

    sacrebleu wants ``streams[r][i]`` = the r-th reference of sentence i; sentences with
    fewer references are padded with ``None`` (which sacrebleu skips).
    ``[["a"], ["b", "c"]]`` -> ``[["a", "b"], [None, "c"]]``.
    """
    count = max(len(refs) for refs in references)
    return [[refs[r] if r < len(refs) else None for refs in references] for r in range(count)]


@dataclass(frozen=True)
class EvalResult:
    """Corpus scores: BLEU and chrF (0-100, sacrebleu), exact match (0-1), ``n`` sentences.

    ``signature`` is sacrebleu's description of how BLEU and chrF were computed (number of
    references, tokenisation, smoothing, version): quote it with the numbers.
    """

    bleu: float
    chrf: float
    exact_match: float
    n: int
    signature: str
    sources: list[str] = field(default_factory=list, repr=False)
    hypotheses: list[str] = field(default_factory=list, repr=False)
    references: list[list[str]] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The numbers and the signature as plain JSON-able data (no sentences)."""
        return {
            "bleu": round(self.bleu, 4),
            "chrf": round(self.chrf, 4),
            "exact_match": round(self.exact_match, 6),
            "n": self.n,
            "signature": self.signature,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    def __str__(self) -> str:
        return (
            f"BLEU {self.bleu:.2f} | chrF {self.chrf:.2f} | exact match "
            f"{100 * self.exact_match:.1f}% | n={self.n}\n{self.signature}"
        )

    def mistakes(self) -> list[tuple[str, str, list[str]]]:
        """``(source, hypothesis, references)`` for every sentence not matched exactly."""
        return [
            (src, hyp, refs)
            for src, hyp, refs in zip(self.sources, self.hypotheses, self.references)
            if normalize_whitespace(hyp) not in {normalize_whitespace(r) for r in refs}
        ]


def score(
    hypotheses: Sequence[str],
    references: Sequence[Sequence[str]],
    sources: Sequence[str] | None = None,
) -> EvalResult:
    """Score translations: corpus BLEU and chrF with sacrebleu, and exact match.

    Args:
        hypotheses: ``n`` translations.
        references: ``n`` lists of acceptable translations (one or more each; the counts
            may differ between sentences).
        sources: optionally the ``n`` source sentences, kept in the result for inspection.
    """
    import sacrebleu

    _check_hypotheses_references(hypotheses, references)
    streams = reference_streams(references)
    bleu = sacrebleu.metrics.BLEU()
    chrf = sacrebleu.metrics.CHRF()
    bleu_score = bleu.corpus_score(list(hypotheses), streams)
    chrf_score = chrf.corpus_score(list(hypotheses), streams)
    signature = f"BLEU {bleu.get_signature()} | chrF {chrf.get_signature()}"
    return EvalResult(
        bleu=float(bleu_score.score),
        chrf=float(chrf_score.score),
        exact_match=exact_match(hypotheses, references),
        n=len(hypotheses),
        signature=signature,
        sources=list(sources) if sources is not None else [],
        hypotheses=list(hypotheses),
        references=[list(refs) for refs in references],
    )


def evaluate(
    translator: Translator | Callable[[list[str]], list[str]],
    pairs: Sequence[tuple[str, str]],
    *,
    limit: int | None = None,
    batch_size: int = 64,
    progress: bool = False,
    **options: Any,
) -> EvalResult:
    """Translate the English side of ``pairs`` and score it against the French side.

    Args:
        translator: a :class:`Translator`, or any function from a list of English
            sentences to a list of French translations.
        pairs: ``(english, french)`` pairs; repeated English sentences are translated once
            and their French sentences are alternative references
            (:func:`course_lib.data.group_references`).
        limit: score only the first ``limit`` distinct English sentences.
        batch_size: sentences translated at a time (the progress bar counts them).
        progress: a tqdm progress bar (on stderr in a terminal, a widget in a notebook).
        **options: passed to :meth:`Translator.translate` (``beam_size``, ``truncate``, ...).

    Returns an :class:`EvalResult` (BLEU, chrF, exact match, n, signature).
    """
    if not callable(translator):
        raise CourseLibError(
            f"translator must be a Translator or a function, got {type(translator).__name__}"
        )
    _check_positive_int(limit, "limit", allow_none=True)
    _check_positive_int(batch_size, "batch_size")
    if isinstance(pairs, (list, tuple)) and not pairs:
        raise CourseLibError("pairs is empty: nothing to evaluate")
    grouped = group_references(pairs)
    sources = [english for english, _ in grouped]
    references = [refs for _, refs in grouped]
    if limit is not None:
        sources, references = sources[:limit], references[:limit]
    hypotheses: list[str] = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(sources), desc="evaluating", unit="sent")
    try:
        for k in range(0, len(sources), batch_size):
            chunk = sources[k : k + batch_size]
            out = translator(chunk, **options) if options else translator(chunk)
            if not isinstance(out, list) or len(out) != len(chunk):
                raise CourseLibError(
                    f"the translator returned {type(out).__name__} for {len(chunk)} sentences; "
                    f"expected a list of {len(chunk)} strings"
                )
            hypotheses.extend(out)
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()
    return score(hypotheses, references, sources)


# ----------------------------------------------------------------------------------------
# Looking inside: cross-attention
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Alignment:
    """Cross-attention of one translation.

    ``weights[layer, head, i, j]`` is how much the decoder, when it produced target token
    ``i`` (``target_tokens[i]``, the last one being ``<end>``), attended to source token
    ``j`` (``source_tokens[j]``). Shape ``(layers, heads, tgt_len, src_len)``; each row
    sums to 1.
    """

    source: str
    translation: str
    source_tokens: list[str]
    target_tokens: list[str]
    weights: torch.Tensor

    def average(self, layer: int | None = None) -> torch.Tensor:
        """``(tgt_len, src_len)``: the mean over heads of ``layer``, or over all layers and heads."""
        if layer is None:
            return self.weights.mean(dim=(0, 1))
        if not -self.weights.size(0) <= layer < self.weights.size(0):
            raise CourseLibError(f"layer must be in 0..{self.weights.size(0) - 1}, got {layer}")
        return self.weights[layer].mean(dim=0)

    def strongest_source(self) -> list[tuple[str, str]]:
        """For each target token, the source token it attended to most (:func:`hard_alignment`)."""
        best = hard_alignment(self.weights).tolist()
        return [(self.target_tokens[i], self.source_tokens[j]) for i, j in enumerate(best)]


def hard_alignment(weights: torch.Tensor) -> torch.Tensor:
    """Average cross-attention over layers and heads, then pick each row's strongest key.

    Shapes: weights ``(layers, heads, tgt_len, src_len)`` -> ``(tgt_len,)`` int64: for each
    generated token, the index of the source token it attended to most on average.
    """
    if not isinstance(weights, torch.Tensor) or not weights.is_floating_point():
        raise CourseLibError(
            "weights must be a floating-point tensor of shape (layers, heads, tgt_len, src_len)"
        )
    if weights.dim() != 4:
        raise CourseLibError(
            f"weights must have shape (layers, heads, tgt_len, src_len), got {tuple(weights.shape)}"
        )
    if weights.numel() == 0:
        raise CourseLibError(f"weights is empty: shape {tuple(weights.shape)}")
    return weights.mean(dim=(0, 1)).argmax(dim=-1)


def token_strings(tokenizer: Any, ids: Sequence[int]) -> list[str]:
    """One readable string per id: the word (or sub-word piece), ``<unk>`` for unknown words.

    Works with :class:`~course_lib.tokenize.WordTokenizer` (its vocabulary) and
    :class:`~course_lib.tokenize.BPETokenizer` (its pieces); other tokenizers decode each
    id alone.
    """
    vocab = getattr(tokenizer, "vocab", None)
    if hasattr(vocab, "itos"):
        return [str(vocab.itos[int(i)]) for i in ids]
    inner = getattr(tokenizer, "tokenizer", None)
    if hasattr(inner, "id_to_token"):
        return [str(inner.id_to_token(int(i))) for i in ids]
    return [tokenizer.decode([int(i)]) or f"<{int(i)}>" for i in ids]


@dataclass(frozen=True)
class AttentionMaps:
    """All three kinds of attention of one translation, every layer and head.

    * ``encoder_self[layer, head, i, j]``: how much English token ``i`` attended to English
      token ``j`` in the encoder, shape ``(encoder layers, heads, src_len, src_len)``;
    * ``decoder_self[layer, head, i, j]``: masked self-attention of the decoder. Row ``i``
      is the step that chose ``target_tokens[i]``; column ``j`` is the French token
      ``decoder_tokens[j]`` it could read (``<start>`` and the words written before).
      Shape ``(decoder layers, heads, tgt_len, tgt_len)``; the causal mask makes every
      entry with ``j > i`` exactly 0;
    * ``cross[layer, head, i, j]``: how much the step that chose ``target_tokens[i]``
      attended to English token ``j``, shape ``(decoder layers, heads, tgt_len, src_len)``.

    Every row sums to 1. ``target_tokens`` are the generated tokens (the last one ``<end>``
    when the translation ended); ``decoder_tokens`` are the decoder's inputs:
    ``<start>`` followed by all generated tokens but the last.
    """

    source: str
    translation: str
    source_tokens: list[str]
    target_tokens: list[str]
    decoder_tokens: list[str]
    encoder_self: torch.Tensor
    decoder_self: torch.Tensor
    cross: torch.Tensor

    KINDS = ("encoder_self", "decoder_self", "cross")

    def weights(self, kind: str) -> torch.Tensor:
        """The ``(layers, heads, queries, keys)`` weights of one kind (see :attr:`KINDS`)."""
        if kind not in self.KINDS:
            raise CourseLibError(f"kind must be one of {', '.join(self.KINDS)}; got {kind!r}")
        return getattr(self, kind)

    def labels(self, kind: str) -> tuple[list[str], list[str]]:
        """``(row labels, column labels)``: the query and key tokens of one kind."""
        self.weights(kind)
        if kind == "encoder_self":
            return self.source_tokens, self.source_tokens
        if kind == "decoder_self":
            return self.target_tokens, self.decoder_tokens
        return self.target_tokens, self.source_tokens

    def alignment(self) -> Alignment:
        """The cross-attention part as an :class:`Alignment`."""
        return Alignment(
            source=self.source,
            translation=self.translation,
            source_tokens=self.source_tokens,
            target_tokens=self.target_tokens,
            weights=self.cross,
        )


@torch.inference_mode()
def attention_maps(
    model: Transformer,
    sentence: str,
    src_tokenizer: Any,
    tgt_tokenizer: Any,
    *,
    beam_size: int = 1,
    translation_ids: Sequence[int] | None = None,
) -> AttentionMaps:
    """Translate ``sentence`` and return its encoder self-, decoder self- and cross-attention.

    The translation is generated (greedy or beam), then the sentence is encoded and the
    decoder run once more with teacher forcing on ``<start> + translation``, both with
    ``return_weights=True``. The decoder is causal, so row ``i`` of the decoder's weights
    is exactly what the generation step that produced token ``i`` used. Pass
    ``translation_ids`` (French ids, ``<end>`` optional) to inspect a given translation
    instead, for example the reference.

    Returns an :class:`AttentionMaps` (weights on the CPU, float32).
    """
    if not isinstance(model, Transformer):
        raise CourseLibError(
            f"model must be a course_lib.model.Transformer, got {type(model).__name__}"
        )
    if not isinstance(sentence, str):
        raise CourseLibError(f"sentence must be a string, got {type(sentence).__name__}")
    if not sentence.strip():
        raise CourseLibError("sentence is empty: there is nothing to align")
    _check_tokenizer(src_tokenizer, "src_tokenizer")
    _check_tokenizer(tgt_tokenizer, "tgt_tokenizer")
    _check_positive_int(beam_size, "beam_size")
    max_len = model.config.max_len
    (src_ids,) = encode_sources([sentence], src_tokenizer, max_len)
    if translation_ids is None:
        (generated,) = _generate(model, [src_ids], beam_size, None, 0.6)
    else:
        if isinstance(translation_ids, torch.Tensor):
            translation_ids = translation_ids.tolist()
        if isinstance(translation_ids, str) or not isinstance(translation_ids, Sequence):
            raise CourseLibError("translation_ids must be a list of French token ids")
        generated = [int(i) for i in translation_ids]
    out_ids = strip_special(generated)
    ended = END in generated or translation_ids is not None
    decoder_input = [START, *out_ids] if ended else [START, *out_ids[:-1]]
    if len(decoder_input) > max_len:
        raise CourseLibError(
            f"the translation has {len(out_ids)} tokens; with <start> that is more than the "
            f"model's max_len={max_len}"
        )
    was_training = model.training
    model.eval()
    try:
        device = _model_device(model)
        src = torch.tensor([src_ids], dtype=torch.long, device=device)
        tgt = torch.tensor([decoder_input], dtype=torch.long, device=device)
        memory, encoder_weights = model.encode(src, return_weights=True)
        _, weights = model.decode(tgt, memory, return_weights=True)
    finally:
        model.train(was_training)

    def stack(per_layer: list[torch.Tensor]) -> torch.Tensor:
        return torch.stack([w[0] for w in per_layer]).float().cpu()  # (L, H, queries, keys)

    target_tokens = token_strings(tgt_tokenizer, out_ids) + (["<end>"] if ended else [])
    return AttentionMaps(
        source=sentence,
        translation=tgt_tokenizer.decode(out_ids),
        source_tokens=token_strings(src_tokenizer, src_ids),
        target_tokens=target_tokens,
        decoder_tokens=["<start>", *token_strings(tgt_tokenizer, decoder_input[1:])],
        encoder_self=stack(encoder_weights),
        decoder_self=stack(weights["self"]),
        cross=stack(weights["cross"]),
    )


def cross_attention(
    model: Transformer,
    sentence: str,
    src_tokenizer: Any,
    tgt_tokenizer: Any,
    *,
    beam_size: int = 1,
    translation_ids: Sequence[int] | None = None,
) -> Alignment:
    """Translate ``sentence`` and return its cross-attention weights for every layer and head.

    The translation is generated (greedy or beam), then decoded once more with teacher
    forcing on ``<start> + translation`` with ``return_weights=True``: the decoder is
    causal, so row ``i`` holds exactly the weights the generation step that produced
    token ``i`` used. Pass ``translation_ids`` (French ids, ``<end>`` optional) to inspect
    a given translation instead, for example the reference.

    Returns an :class:`Alignment` with weights ``(layers, heads, tgt_len, src_len)``; the
    last row is the step that produced ``<end>`` (when the translation ended).
    :func:`attention_maps` returns the encoder's and the decoder's self-attention too.
    """
    return attention_maps(
        model,
        sentence,
        src_tokenizer,
        tgt_tokenizer,
        beam_size=beam_size,
        translation_ids=translation_ids,
    ).alignment()


def plot_alignment(
    alignment: Alignment,
    layer: int | None = None,
    head: int | None = None,
    ax: Any = None,
    title: str | None = None,
) -> Any:
    """One heatmap: target tokens (rows) against source tokens (columns).

    ``layer=None`` averages over layers, ``head=None`` over heads. Returns the matplotlib
    ``Axes`` (a new figure when ``ax`` is None).
    """
    import matplotlib.pyplot as plt

    if not isinstance(alignment, Alignment):
        raise CourseLibError(f"expected an Alignment, got {type(alignment).__name__}")
    n_layers, n_heads = alignment.weights.shape[:2]
    for name, value, count in (("layer", layer, n_layers), ("head", head, n_heads)):
        if value is not None and not (isinstance(value, int) and 0 <= value < count):
            raise CourseLibError(f"{name} must be None or in 0..{count - 1}, got {value!r}")
    chosen = alignment.weights
    chosen = chosen.mean(dim=0) if layer is None else chosen[layer]
    chosen = chosen.mean(dim=0) if head is None else chosen[head]
    standalone = ax is None
    if standalone:
        width = max(3.5, 0.6 * len(alignment.source_tokens) + 2.3)
        height = max(2.5, 0.45 * len(alignment.target_tokens) + 1.2)
        fig, ax = plt.subplots(figsize=(width, height))
        plt.close(fig)  # shown once, as the cell's value
    image = ax.imshow(chosen.numpy(), cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    if standalone:
        ax.figure.colorbar(image, ax=ax, fraction=0.05, pad=0.04, label="attention weight")
    ax.set_xticks(range(len(alignment.source_tokens)))
    ax.set_xticklabels(alignment.source_tokens, rotation=45, ha="right")
    ax.set_yticks(range(len(alignment.target_tokens)))
    ax.set_yticklabels(alignment.target_tokens)
    ax.set_xlabel("English (source)")
    ax.set_ylabel("French (generated)")
    if title is None:
        where = "all layers" if layer is None else f"layer {layer + 1}"
        heads = "mean of heads" if head is None else f"head {head + 1}"
        title = f"{where}, {heads}"
    ax.set_title(title, fontsize=9)
    return ax


def plot_cross_attention(alignment: Alignment) -> Any:
    """A grid of heatmaps: one row per decoder layer, one column per head, plus the mean.

    The last column averages the heads of each layer; the bottom-right panel averages all
    layers and heads. Returns the matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt

    if not isinstance(alignment, Alignment):
        raise CourseLibError(f"expected an Alignment, got {type(alignment).__name__}")
    n_layers, n_heads = alignment.weights.shape[:2]
    cell_w = max(1.8, 0.45 * len(alignment.source_tokens) + 1.0)
    cell_h = max(1.6, 0.32 * len(alignment.target_tokens) + 0.8)
    fig, axes = plt.subplots(
        n_layers + 1,
        n_heads + 1,
        figsize=(cell_w * (n_heads + 1), cell_h * (n_layers + 1)),
        squeeze=False,
    )
    plt.close(fig)
    for layer in range(n_layers):
        for head in range(n_heads):
            plot_alignment(
                alignment,
                layer,
                head,
                ax=axes[layer][head],
                title=f"layer {layer + 1} head {head + 1}",
            )
        plot_alignment(
            alignment, layer, None, ax=axes[layer][n_heads], title=f"layer {layer + 1} mean"
        )
    for head in range(n_heads):
        axes[n_layers][head].set_axis_off()
    plot_alignment(alignment, None, None, ax=axes[n_layers][n_heads], title="mean of all")
    for layer in range(n_layers):  # axis titles once per row and column: less clutter
        for head in range(n_heads + 1):
            if head > 0:
                axes[layer][head].set_ylabel("")
            if layer < n_layers - 1 or head < n_heads:
                axes[layer][head].set_xlabel("")
    fig.suptitle(f"Cross-attention: {alignment.source!r} -> {alignment.translation!r}")
    fig.tight_layout()
    _shared_colorbar(fig, axes[0][0].images)
    return fig


_KIND_TITLES = {
    "encoder_self": "encoder self-attention",
    "decoder_self": "decoder masked self-attention",
    "cross": "cross-attention",
}
_KIND_AXES = {
    "encoder_self": ("English (query)", "English (key)"),
    "decoder_self": ("French word being chosen", "French read (key)"),
    "cross": ("French word being chosen", "English (key)"),
}
_MASKED_COLOR = "#d9d9d9"  # light grey: positions the causal mask hides


def _shared_colorbar(fig: Any, images: list[Any]) -> None:
    """One colour bar (0 to 1, "attention weight") on the right of a grid of heatmaps."""
    if not images:
        return
    fig.subplots_adjust(right=0.88)
    cax = fig.add_axes((0.91, 0.15, 0.015, 0.7))
    fig.colorbar(images[0], cax=cax, label="attention weight")


def _draw_map(
    ax: Any,
    weights: torch.Tensor,
    rows: list[str],
    cols: list[str],
    title: str,
    causal: bool,
) -> Any:
    """One ``(queries, keys)`` heatmap on ``ax`` with the tokens on both axes; returns the image.

    With ``causal``, the entries the causal mask hides (key after query) are drawn in light
    grey instead of the colour of 0, so "masked" and "not attended" look different.
    """
    import matplotlib as mpl
    import numpy as np

    values = weights.numpy().astype(float)
    if causal:
        hidden = np.triu(np.ones_like(values, dtype=bool), k=1)
        values = np.ma.masked_array(values, mask=hidden)
    cmap = mpl.colormaps["viridis"].with_extremes(bad=_MASKED_COLOR)
    image = ax.imshow(values, cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(cols)))
    ax.set_xticklabels(cols, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(rows, fontsize=8)
    ax.set_title(title, fontsize=9)
    return image


def _check_maps(maps: Any) -> None:
    if not isinstance(maps, AttentionMaps):
        raise CourseLibError(
            f"expected AttentionMaps (from attention_maps(...)), got {type(maps).__name__}"
        )


def plot_attention_maps(maps: AttentionMaps) -> Any:
    """A grid: one row per kind of attention, one column per layer, each the mean of the heads.

    Rows: encoder self-attention (English x English), decoder masked self-attention (the
    French word being chosen x the French tokens read; masked entries light grey) and
    cross-attention (French x English). One colour bar, 0 to 1. Returns the ``Figure``.
    """
    import matplotlib.pyplot as plt

    _check_maps(maps)
    n_cols = max(maps.encoder_self.size(0), maps.decoder_self.size(0))
    n_src, n_tgt = len(maps.source_tokens), len(maps.target_tokens)
    cell_w = max(2.2, 0.42 * max(n_src, n_tgt) + 1.3)
    fig, axes = plt.subplots(
        3,
        n_cols,
        figsize=(cell_w * n_cols + 1.6, 3 * max(2.1, 0.3 * max(n_src, n_tgt) + 1.3)),
        squeeze=False,
    )
    plt.close(fig)
    images = []
    for r, kind in enumerate(AttentionMaps.KINDS):
        weights = maps.weights(kind)
        rows, cols = maps.labels(kind)
        for layer in range(n_cols):
            ax = axes[r][layer]
            if layer >= weights.size(0):
                ax.set_axis_off()
                continue
            title = f"{_KIND_TITLES[kind]}, layer {layer + 1}"
            images.append(
                _draw_map(ax, weights[layer].mean(0), rows, cols, title, kind == "decoder_self")
            )
            ax.set_xlabel(_KIND_AXES[kind][1], fontsize=8)
            if layer == 0:
                ax.set_ylabel(_KIND_AXES[kind][0], fontsize=8)
    fig.suptitle(
        f"{maps.source!r} -> {maps.translation!r}: the three kinds of attention (mean over heads)"
    )
    fig.tight_layout()
    _shared_colorbar(fig, images)
    return fig


def plot_attention_heads(maps: AttentionMaps, kind: str) -> Any:
    """Every head of every layer for one kind of attention: one row per layer.

    ``kind`` is ``"encoder_self"``, ``"decoder_self"`` or ``"cross"``. One colour bar, 0 to
    1; for the decoder's self-attention the entries the causal mask hides are light grey.
    Returns the ``Figure``.
    """
    import matplotlib.pyplot as plt

    _check_maps(maps)
    weights = maps.weights(kind)
    rows, cols = maps.labels(kind)
    n_layers, n_heads = weights.shape[:2]
    cell_w = max(2.0, 0.42 * len(cols) + 1.2)
    cell_h = max(1.9, 0.3 * len(rows) + 1.1)
    fig, axes = plt.subplots(
        n_layers, n_heads, figsize=(cell_w * n_heads + 1.6, cell_h * n_layers), squeeze=False
    )
    plt.close(fig)
    images = []
    for layer in range(n_layers):
        for head in range(n_heads):
            ax = axes[layer][head]
            title = f"layer {layer + 1} head {head + 1}"
            images.append(
                _draw_map(ax, weights[layer, head], rows, cols, title, kind == "decoder_self")
            )
            if head == 0:
                ax.set_ylabel(_KIND_AXES[kind][0], fontsize=8)
            if layer == n_layers - 1:
                ax.set_xlabel(_KIND_AXES[kind][1], fontsize=8)
    fig.suptitle(f"{_KIND_TITLES[kind].capitalize()}, every head: {maps.source!r}")
    fig.tight_layout()
    _shared_colorbar(fig, images)
    return fig


__all__ = [
    "Alignment",
    "AttentionMaps",
    "attention_maps",
    "plot_attention_heads",
    "plot_attention_maps",
    "EvalResult",
    "Translator",
    "cross_attention",
    "default_max_new_tokens",
    "encode_sources",
    "evaluate",
    "exact_match",
    "hard_alignment",
    "load_checkpoint_or_bundled",
    "normalize_whitespace",
    "plot_alignment",
    "plot_cross_attention",
    "reference_streams",
    "score",
    "strip_special",
    "token_strings",
    "translate",
    "translate_ids",
]
