"""Step 7: scoring translations - the ONE evaluation path of the course.

The trainer's periodic validation, ``course-lib train``'s ``metrics.json``, ``course-lib
evaluate``, chapter 7 and the benchmarks all call :func:`evaluate` (or :func:`score` on
strings they already have), so one checkpoint on one split gets one set of figures.

The rules, in one place:

* **What is compared.** The hypothesis is the model's output as text
  (``tgt_tokenizer.decode`` of the generated ids: detokenised, French spacing and elision
  restored). Hypotheses and references are both passed through :func:`normalize_text`
  (Unicode NFC, typographic apostrophes written ``'``, runs of whitespace, no-break spaces
  included, collapsed to one space). Case and punctuation count. BLEU and chrF (sacrebleu,
  0-100) and exact match (0-1) all use these same strings.
* **Several references.** An English sentence that appears in several pairs is translated
  once; all its French sentences are references (:func:`course_lib.data.group_references`).
  Exact match: equal to at least one of them.
* **``<unk>``.** References are never skipped or altered. A word the target vocabulary
  lacks can only come out of the model as ``<unk>``, which stays in the hypothesis as the
  literal text ``<unk>``: a reference with an unknown word is therefore never matched exactly,
  and BLEU/chrF count the ``<unk>`` as a wrong word.
* **Long sources.** A source longer than the model's ``max_len`` is truncated to its first
  ``max_len`` tokens and scored (likely as wrong); it is never dropped, so ``n`` is always the
  number of distinct English sentences asked for.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sacrebleu
from tqdm.auto import tqdm

from course_lib.checks import check_int
from course_lib.data import group_references
from course_lib.errors import CourseLibError
from course_lib.translate import Translator

# Typographic apostrophes as the tokenizers write them (ASCII), so typography cannot cost a match.
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


def normalize_text(text: str) -> str:
    """The form in which hypotheses and references are compared.

    Unicode NFC, typographic apostrophes as ``'``, whitespace runs (no-break spaces
    included) collapsed to one space, ends stripped: ``" J\u2019aime  la\u00a0pizza "`` ->
    ``"J'aime la pizza"``. Case and punctuation are kept.
    """
    return " ".join(unicodedata.normalize("NFC", text).translate(_APOSTROPHES).split())


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


def _matches(hypothesis: str, references: Sequence[str]) -> bool:
    """Whether the hypothesis equals one of the references (both already normalised)."""
    return hypothesis in references


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
    references, tokenisation, smoothing, version): quote it with the numbers. ``sources``,
    ``hypotheses`` and ``references`` keep the sentences (normalised) for inspection.
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
        """:meth:`to_dict` as one line of JSON."""
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
            if not _matches(hyp, refs)
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

    Every string is compared in its :func:`normalize_text` form.
    """
    _check_hypotheses_references(hypotheses, references)
    hyps = [normalize_text(h) for h in hypotheses]
    refs = [[normalize_text(r) for r in sentence_refs] for sentence_refs in references]
    streams = reference_streams(refs)
    bleu = sacrebleu.metrics.BLEU()
    chrf = sacrebleu.metrics.CHRF()
    bleu_score = bleu.corpus_score(hyps, streams)
    chrf_score = chrf.corpus_score(hyps, streams)
    return EvalResult(
        bleu=float(bleu_score.score),
        chrf=float(chrf_score.score),
        exact_match=sum(_matches(h, r) for h, r in zip(hyps, refs)) / len(hyps),
        n=len(hyps),
        signature=f"BLEU {bleu.get_signature()} | chrF {chrf.get_signature()}",
        sources=list(sources) if sources is not None else [],
        hypotheses=hyps,
        references=refs,
    )


def _translate_all(
    translator: Any,
    sources: list[str],
    beam_size: int,
    max_new_tokens: int | None,
    batch_size: int,
    progress: bool,
) -> list[str]:
    """The translations of ``sources``, by the rules above (long sources truncated)."""
    if isinstance(translator, Translator):
        # one call: translate() sorts all sentences by length, so batches hold little padding
        return translator.translate(
            sources,
            beam_size=beam_size,
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            truncate=True,
            progress=progress,
        )
    if not callable(translator):
        raise CourseLibError(
            f"translator must be a Translator or a function, got {type(translator).__name__}"
        )
    if beam_size != 1 or max_new_tokens is not None:
        raise CourseLibError(
            "beam_size and max_new_tokens apply to a course_lib.translate.Translator; "
            f"got a {type(translator).__name__}, which decodes as it likes"
        )
    hypotheses: list[str] = []
    with tqdm(total=len(sources), desc="evaluating", unit="sent", disable=not progress) as bar:
        for k in range(0, len(sources), batch_size):
            chunk = sources[k : k + batch_size]
            out = translator(chunk)
            if not isinstance(out, list) or len(out) != len(chunk):
                raise CourseLibError(
                    f"the translator returned {type(out).__name__} for {len(chunk)} sentences; "
                    f"expected a list of {len(chunk)} strings"
                )
            hypotheses.extend(out)
            bar.update(len(chunk))
    return hypotheses


def evaluate(
    translator: Translator | Callable[[list[str]], list[str]],
    pairs: Sequence[tuple[str, str]],
    *,
    max_sentences: int | None = None,
    beam_size: int = 1,
    max_new_tokens: int | None = None,
    batch_size: int = 64,
    progress: bool = False,
) -> EvalResult:
    """Translate the English side of ``pairs`` and score it against the French side.

    Args:
        translator: a :class:`~course_lib.translate.Translator` (a model with its two
            tokenizers: ``Translator(model, src_tok, tgt_tok)``), or any function from a list
            of English sentences to a list of French translations.
        pairs: ``(english, french)`` string pairs; repeated English sentences are translated
            once and their French sentences are alternative references.
        max_sentences: score only the first ``max_sentences`` distinct English sentences
            (a cheap periodic validation while training).
        beam_size: 1 for greedy decoding (batched, with the key/value cache), more for beam
            search; only for a :class:`~course_lib.translate.Translator`.
        max_new_tokens: most French tokens per sentence; default
            :func:`~course_lib.translate.default_max_new_tokens`.
        batch_size: sentences translated at a time (the progress bar counts them).
        progress: a tqdm progress bar (on stderr in a terminal, a widget in a notebook).

    Returns an :class:`EvalResult` (BLEU, chrF, exact match, n, signature), computed by the
    rules of this module's docstring.
    """
    if max_sentences is not None:
        check_int(max_sentences, "max_sentences", minimum=1)
    check_int(batch_size, "batch_size", minimum=1)
    if isinstance(pairs, (list, tuple)) and not pairs:
        raise CourseLibError("pairs is empty: nothing to evaluate")
    grouped = group_references(pairs)[:max_sentences]
    sources = [english for english, _ in grouped]
    hypotheses = _translate_all(
        translator, sources, beam_size, max_new_tokens, batch_size, progress
    )
    return score(hypotheses, [refs for _, refs in grouped], sources)


__all__ = [
    "EvalResult",
    "evaluate",
    "normalize_text",
    "reference_streams",
    "score",
]
