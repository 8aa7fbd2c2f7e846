"""Chapter 7 exercises: French detokenisation, exact match, and reading an alignment.

The references are the ``course_lib`` functions the chapter uses; every case is plain
data (lists of strings, seeded tensors), so the grader can exchange it with a sandboxed
submission.
"""

from __future__ import annotations

import torch

from course_lib.exercises.core import Case, Exercise
from course_lib.tokenize import detokenize_fr
from course_lib.translate import exact_match, hard_alignment


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


def reference_exact_match_score(hypotheses: list[str], references: list[list[str]]) -> float:
    """``course_lib.translate.exact_match``: fraction matching any reference, whitespace
    normalised."""
    return exact_match(hypotheses, references)


def _exact_match_cases() -> list[Case]:
    return [
        Case(
            "one reference each",
            (
                ["J'aime la pizza", "Je déteste la pizza"],
                [["J'aime la pizza"], ["Je hais la pizza"]],
            ),
        ),
        Case(
            "any of several references counts",
            (["Salut !", "Cours !"], [["Bonjour !", "Salut !"], ["Courez !", "Cours !"]]),
        ),
        Case(
            "extra spaces do not matter",
            (
                ["  J'aime   la pizza ", "Elle boit\tde l'eau"],
                [["J'aime la pizza"], ["Elle boit de l'eau"]],
            ),
        ),
        Case(
            "case and punctuation do matter",
            (["j'aime la pizza", "J'aime la pizza."], [["J'aime la pizza"], ["J'aime la pizza"]]),
        ),
        Case("all wrong", (["Non", "Non", "Non"], [["Oui"], ["Si"], ["Oui", "Si"]])),
    ]


def reference_strongest_source(weights: torch.Tensor) -> torch.Tensor:
    """``course_lib.translate.hard_alignment``: mean over layers and heads, argmax over
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


EXERCISES = [
    Exercise(
        id="ch07_detokenize_french",
        chapter=7,
        title="Turn French tokens back into a sentence",
        function="detokenize_french",
        reference=reference_detokenize_french,
        cases=_detokenize_cases,
        points=2,
        hint=(
            "Join the tokens with spaces, except: no space after a token that ends with an "
            "apostrophe (j' + aime -> j'aime) and no space before '.' or ','; keep the space "
            "before '!', '?', ':' and ';' (French typography). Finally upper-case the first "
            "letter (text[:1].upper() + text[1:])."
        ),
    ),
    Exercise(
        id="ch07_exact_match",
        chapter=7,
        title="Exact match against several references",
        function="exact_match_score",
        reference=reference_exact_match_score,
        cases=_exact_match_cases,
        points=1,
        hint=(
            "Normalise whitespace with ' '.join(text.split()) on both sides; a hypothesis "
            "scores 1 if it equals any of its references; return the mean as a float."
        ),
    ),
    Exercise(
        id="ch07_strongest_source",
        chapter=7,
        title="Which English word did each French word look at?",
        function="strongest_source",
        reference=reference_strongest_source,
        cases=_alignment_cases,
        points=1,
        hint=(
            "Average the weights over the layer and head dimensions "
            "(weights.mean(dim=(0, 1)) gives (tgt_len, src_len)), then take argmax over the "
            "last dimension."
        ),
    ),
]
