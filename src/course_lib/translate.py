"""Step 7: inference - translate sentences the model never saw.

    "I hate pizza" --tokenise--> ids --encode--> memory --greedy/beam--> ids --detokenise-->
    "Je déteste la pizza"

* :func:`translate`: strings in, strings out, in batches (:func:`translate_ids` for ids);
* :class:`Translator`: a model bundled with its two tokenizers, loaded from a checkpoint
  or the bundled one (:func:`load_checkpoint_or_bundled`).

Scoring lives in :mod:`course_lib.evaluate`, the attention pictures' data in
:mod:`course_lib.attention_maps` and their plots in :mod:`course_lib.viz`.

Input rules of :func:`translate` (tested in ``tests/test_translate.py``):

* an empty or whitespace-only sentence translates to ``""`` and the model is not run for it;
* a word the source vocabulary does not know becomes ``<unk>``; the sentence is still
  translated (usually badly: that is the model's honest answer);
* a sentence longer than the model's ``max_len`` raises :class:`CourseLibError` naming the
  sentence and the limit, unless ``truncate=True``, which keeps its first ``max_len``
  tokens (documented truncation: the end of the sentence is not translated).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from course_lib import checkpoint as checkpoints
from course_lib.batching import pad_sequences
from course_lib.beam import beam_search
from course_lib.checks import check_int, check_tokenizer
from course_lib.errors import CourseLibError
from course_lib.generate import greedy_decode, model_device
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


def check_model(model: Any) -> None:
    """``model`` is a :class:`~course_lib.model.Transformer`, else a clear error."""
    if not isinstance(model, Transformer):
        raise CourseLibError(
            f"model must be a course_lib.model.Transformer, got {type(model).__name__}"
        )


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


def generate_ids(
    model: Transformer,
    src_ids: list[list[int]],
    *,
    beam_size: int = 1,
    max_new_tokens: int | None = None,
    length_penalty: float = 0.6,
) -> list[list[int]]:
    """Raw generated ids per sentence (``<end>`` and the ``<pad>`` after it included).

    The sources are padded into one ``(batch, src_len)`` batch and decoded with
    :func:`course_lib.generate.greedy_decode` (``beam_size == 1``, key/value cache) or
    :func:`course_lib.beam.beam_search`; ``max_new_tokens`` defaults to
    :func:`default_max_new_tokens` of the longest source.
    """
    src = pad_sequences(src_ids).to(model_device(model))  # (batch, src_len), <pad> = 0
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
    :func:`course_lib.beam.beam_search`, and each row is cut at its ``<end>``.
    """
    if not src_ids:
        return []
    if any(not ids for ids in src_ids):
        raise CourseLibError("translate_ids: every source must have at least one token")
    generated = generate_ids(
        model,
        src_ids,
        beam_size=beam_size,
        max_new_tokens=max_new_tokens,
        length_penalty=length_penalty,
    )
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
    check_model(model)
    items, single = _check_sentences(sentences)
    check_tokenizer(src_tokenizer, "src_tokenizer")
    check_tokenizer(tgt_tokenizer, "tgt_tokenizer")
    check_int(beam_size, "beam_size", minimum=1)
    check_int(batch_size, "batch_size", minimum=1)
    if max_new_tokens is not None:
        check_int(max_new_tokens, "max_new_tokens", minimum=1)
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
        check_model(model)
        check_tokenizer(src_tokenizer, "src_tokenizer")
        check_tokenizer(tgt_tokenizer, "tgt_tokenizer")
        # translate() switches the model to eval mode and back, so a trainer can build a
        # Translator of the model it is training (course_lib.evaluate) without side effects
        self.model = model
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


__all__ = [
    "Translator",
    "default_max_new_tokens",
    "check_model",
    "encode_sources",
    "generate_ids",
    "load_checkpoint_or_bundled",
    "strip_special",
    "translate",
    "translate_ids",
]
