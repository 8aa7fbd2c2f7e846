"""Chapter 7 exercises: a checkpoint on unknown words, French detokenisation, BLEU's
clipped n-gram precision, and reading an alignment.

Every case is plain data (lists of strings, seeded tensors), so the grader can exchange it
with a sandboxed submission; ``fresh_cases(seed)`` draws new inputs at grade time.
"""

from __future__ import annotations

import random
from collections import Counter

import torch

from course_lib import evaluate as evaluation
from course_lib.attention_maps import Alignment, cross_attention, hard_alignment
from course_lib.exercises.core import Case, Exercise
from course_lib.tokenize import BPETokenizer, WordTokenizer, detokenize_en, detokenize_fr


def _answer() -> list[Case]:
    return [Case("answer")]


def reference_unknown_checkpoint() -> int:
    """The id of ``<unk>``: what the source tokenizer gives a word it never saw."""
    return 3


def reference_detokenize_french(tokens: list[str]) -> str:
    """``course_lib.tokenize.detokenize_fr``: French tokens -> a sentence."""
    return detokenize_fr(tokens)


def _detokenize_cases() -> list[Case]:
    return [
        Case("elision: j' + aime", (["j'", "aime", "la", "pizza"],)),
        Case("no elision", (["je", "déteste", "la", "pizza"],)),
        Case("two elisions and a full stop", (["je", "n'", "aime", "pas", "l'", "eau", "."],)),
        Case("a space before ? in French", (["tu", "aimes", "le", "fromage", "?"],)),
        Case(
            "a space before !, none before ,",
            (["qu'", "il", "mange", ",", "c'", "est", "bien", "!"],),
        ),
        Case("one word", (["merci"],)),
        Case("no tokens", ([],)),
    ]


_WORDS = ["je", "tu", "il", "aime", "mange", "la", "le", "pizza", "pomme", "bien", "été", "pas"]
_ELIDED = ["j'", "l'", "n'", "qu'", "c'", "d'"]
_MIDDLE_PUNCTUATION = [",", ":", ";"]
_FINAL_PUNCTUATION = [".", "!", "?", ""]


def _fresh_detokenize_cases(seed: int) -> list[Case]:
    """Plausible token sequences: an elided token is always followed by a word, punctuation
    always follows a word, and a sentence ends at most once (at the end)."""
    rng = random.Random(seed)
    cases = []
    for i in range(2):
        tokens: list[str] = []
        for _ in range(rng.randint(1, 6)):
            if rng.random() < 0.3:
                tokens.append(rng.choice(_ELIDED))
            tokens.append(rng.choice(_WORDS))
            if rng.random() < 0.25:
                tokens.append(rng.choice(_MIDDLE_PUNCTUATION))
        tokens += [p for p in [rng.choice(_FINAL_PUNCTUATION)] if p]
        cases.append(Case(f"random tokens {i + 1} (seed {seed})", (tokens,)))
    return cases


def reference_clipped_precision(
    hypothesis: list[str], references: list[list[str]], n: int
) -> tuple[int, int]:
    """BLEU's modified n-gram precision as ``(matches, total)``: ``total`` n-grams in the
    hypothesis, each counted at most as often as it occurs in one of the references."""

    def ngrams(tokens: list[str]) -> Counter:
        return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))

    counts = ngrams(hypothesis)
    best: Counter = Counter()
    for reference in references:
        best |= ngrams(reference)  # element-wise maximum over the references
    matches = sum(min(count, best[gram]) for gram, count in counts.items())
    return matches, sum(counts.values())


def _precision_cases() -> list[Case]:
    the_cat = "the cat is on the mat".split()
    there = "there is a cat on the mat".split()
    return [
        Case(
            "unigrams: 'the' seven times is clipped to 2",
            (["the"] * 7, [the_cat, there], 1),
        ),
        Case(
            "bigrams against two references",
            ("the cat the cat on the mat".split(), [the_cat, there], 2),
        ),
        Case(
            "French elision tokens",
            (
                ["j'", "aime", "la", "pizza"],
                [["j'", "aime", "la", "pizza"], ["j'", "adore", "la", "pizza"]],
                2,
            ),
        ),
        Case("a hypothesis shorter than n has no n-grams", (["oui"], [["oui", "merci"]], 2)),
        Case("nothing in common", (["non", "merci"], [["oui"]], 1)),
        Case(
            "4-grams", ("je n' aime pas la pizza".split(), ["je n' aime pas la soupe".split()], 4)
        ),
    ]


def _fresh_precision_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    words = ["je", "la", "pizza", "aime", "j'", "pas", "le", "chat"]
    hypothesis = [rng.choice(words) for _ in range(rng.randint(1, 10))]
    references = [
        [rng.choice(words) for _ in range(rng.randint(1, 10))] for _ in range(rng.randint(1, 3))
    ]
    return [
        Case(f"random sentences, n = {n} (seed {seed})", (hypothesis, references, n))
        for n in (1, 2)
    ]


def reference_strongest_source(weights: torch.Tensor) -> torch.Tensor:
    """``course_lib.attention_maps.hard_alignment``: mean over layers and heads, argmax over
    source positions; ``(layers, heads, tgt_len, src_len)`` -> ``(tgt_len,)`` int64."""
    return hard_alignment(weights)


def _attention(layers: int, heads: int, tgt_len: int, src_len: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    scores = torch.randn(layers, heads, tgt_len, src_len, generator=generator) * 3
    return scores.softmax(dim=-1)


def _alignment_cases() -> list[Case]:
    diagonal = torch.eye(4)[None, None].repeat(2, 2, 1, 1) * 0.9 + 0.025
    one_head_disagrees = diagonal.clone()
    one_head_disagrees[0, 0] = torch.eye(4).flip(0) * 0.9 + 0.025  # outvoted by 3 heads
    return [
        Case("a diagonal alignment", (diagonal,)),
        Case("one head disagrees, the average wins", (one_head_disagrees,)),
        Case("3 layers, 4 heads, 5 x 3", (_attention(3, 4, 5, 3, seed=0),)),
        Case("1 layer, 1 head, 6 x 7", (_attention(1, 1, 6, 7, seed=1),)),
        Case("2 layers, 2 heads, 1 x 5", (_attention(2, 2, 1, 5, seed=2),)),
    ]


def _fresh_alignment_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    shape = (rng.randint(1, 3), rng.randint(1, 4), rng.randint(1, 6), rng.randint(1, 6))
    return [Case(f"random weights {shape} (seed {seed})", (_attention(*shape, seed=seed),))]


EXERCISES = [
    Exercise(
        id="ch07_unknown_checkpoint",
        chapter=7,
        title="What does the model read for a word it never saw?",
        function="ANSWER_CH7_UNKNOWN_ID",
        reference=reference_unknown_checkpoint,
        cases=_answer,
        points=1,
        kind="checkpoint",
        minutes=3,
        hint=(
            "Chapter 2's vocabulary starts with four special tokens, and one of them exists "
            "for exactly this case. Which id does it have?"
        ),
        explanation=(
            "3, the id of <unk>: the word-level vocabulary was built from the training "
            "sentences, and the tokenizer maps every word outside it to <unk> (ids 0-3 are "
            "<pad>, <start>, <end>, <unk>). The model never sees 'sushi', only 'unknown "
            "word', so no decoder can translate it; sub-word tokenizers avoid this."
        ),
    ),
    Exercise(
        id="ch07_detokenize_french",
        chapter=7,
        title="Turn French tokens back into a sentence",
        function="detokenize_french",
        reference=reference_detokenize_french,
        cases=_detokenize_cases,
        fresh_cases=_fresh_detokenize_cases,
        points=2,
        minutes=10,
        forbidden=(
            detokenize_fr,
            detokenize_en,
            WordTokenizer,
            BPETokenizer,
        ),
        hint=(
            "Decide, for each pair of neighbouring tokens, whether a space goes between them: "
            "that depends on how the left one ends and on what the right one is."
        ),
        explanation=(
            "Elided words (j', l', n', qu') glue to the next word, '.' and ',' glue to the "
            "previous one, and French typography keeps a space before '!', '?', ':' and ';'. "
            "Joining with plain spaces would cost BLEU and exact match on every such sentence."
        ),
    ),
    Exercise(
        id="ch07_clipped_precision",
        chapter=7,
        title="BLEU's clipped n-gram precision",
        function="clipped_precision",
        reference=reference_clipped_precision,
        cases=_precision_cases,
        fresh_cases=_fresh_precision_cases,
        points=3,
        minutes=15,
        forbidden=(
            evaluation.score,
            evaluation.evaluate,
            "sacrebleu",
            "nltk.translate.bleu_score",
        ),
        hint=(
            "Count the hypothesis's n-grams, and for each distinct n-gram find how often the "
            "most generous reference allows it. A hypothesis must not earn more for an n-gram "
            "than any single reference contains."
        ),
        explanation=(
            "Without clipping, 'the the the the the the the' would have unigram precision 1 "
            "against 'the cat is on the mat'. BLEU counts each n-gram at most as often as the "
            "reference that contains it most (Papineni et al., 2002), for n = 1 to 4, then "
            "combines the four precisions with a brevity penalty."
        ),
    ),
    Exercise(
        id="ch07_strongest_source",
        chapter=7,
        title="Which English word did each French word look at?",
        function="strongest_source",
        reference=reference_strongest_source,
        cases=_alignment_cases,
        fresh_cases=_fresh_alignment_cases,
        points=1,
        minutes=8,
        forbidden=(
            hard_alignment,
            Alignment,
            cross_attention,
        ),
        hint=(
            "First reduce the layers and heads to one (tgt_len, src_len) map, averaging them "
            "so every head has the same say; then pick, per French position, its strongest "
            "English position."
        ),
        explanation=(
            "Averaging over layers and heads and taking the argmax per target word gives a "
            "hard alignment. Single heads can disagree (one head reading the previous word, "
            "another the source word); the mean lets the majority win. Attention weights "
            "show where the model reads, not why it chose a word."
        ),
    ),
]
