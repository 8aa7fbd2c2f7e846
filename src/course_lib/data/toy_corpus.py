"""The bundled corpus: a seeded sample of the grammar's sentences, split for training and testing.

:func:`make_toy_corpus` samples ``size`` sentences (the running examples always in), holds
out about a tenth of the verb-noun combinations (always "hate pizza", which chapter 7
translates) as the test split, and keeps every negated "drink" sentence as a generalisation
test: a construction never seen in training. :func:`word_counts` counts the words of a
corpus.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from course_lib.data.grammar import ToySentence, grammar_sentences, verb_noun_combinations
from course_lib.data.lexicon import ADJECTIVES, NOUNS, SUBJECTS, VERBS
from course_lib.data.pairs import Pair
from course_lib.errors import CourseLibError

# The generalisation test: this verb is never negated in training.
GENERALISATION_VERB = "drink"
# Always held out (chapter 7 translates "I hate pizza") ...
ALWAYS_HELD_OUT: tuple[tuple[str, str], ...] = (("hate", "pizza"),)
# ... and never held out: the running examples must be seen in training.
NEVER_HELD_OUT = frozenset(
    {
        ("love", "pizza"),
        ("like", "pizza"),
        ("eat", "bread"),
        ("drink", "water"),
        ("eat", "pizza"),
        ("see", "car"),
    }
)
# Sentences always present in the bundled corpus (the seed's examples).
ANCHOR_SENTENCES: tuple[str, ...] = (
    "I love pizza",
    "I hate pizza",
    "I don't like pizza",
    "He doesn't eat bread",
    "She drinks water",
    "We eat pizza",
    "I see the red car",
    "They (f) love cats",
)
HELD_OUT_FRACTION = 0.10
VALID_FRACTION = 0.05
DEFAULT_SIZE = 6000


@dataclass
class ToyCorpus:
    """The bundled corpus, already split.

    Attributes:
        train: pairs to learn from.
        valid: a seeded ~5% of the pairs whose combination is not held out.
        test: every pair whose (verb, noun) combination is in ``held_out_combinations``;
            none of these combinations occurs in ``train`` or ``valid``.
        generalisation: every negated sentence with the verb ``generalisation_verb``
            ("She doesn't drink water") the grammar writes: a whole construction never
            seen in training.
        held_out_combinations: the (English verb, English noun) pairs kept out of training;
            always includes ("hate", "pizza").
        generalisation_verb: the verb that is never negated in training ("drink").
        seed: the seed that chose the sample, the held-out combinations and the splits.
        description: a short human summary.
    """

    train: list[Pair]
    valid: list[Pair]
    test: list[Pair]
    generalisation: list[Pair]
    held_out_combinations: list[tuple[str, str]]
    generalisation_verb: str
    seed: int
    description: str = ""
    sentences: list[ToySentence] = field(default_factory=list, repr=False)

    @property
    def pairs(self) -> list[Pair]:
        """All pairs: train + valid + test + generalisation."""
        return self.train + self.valid + self.test + self.generalisation


def _choose_held_out(rng: random.Random) -> list[tuple[str, str]]:
    """~10% of the verb-noun combinations, always (hate, pizza); every verb and every noun
    keeps at least two combinations in training."""
    combos = verb_noun_combinations()
    candidates = [c for c in combos if c not in NEVER_HELD_OUT and c not in ALWAYS_HELD_OUT]
    count = round(HELD_OUT_FRACTION * len(combos)) - len(ALWAYS_HELD_OUT)
    while True:
        held = set(ALWAYS_HELD_OUT) | set(rng.sample(candidates, count))
        kept = [c for c in combos if c not in held]
        verbs_ok = all(sum(v == verb.en for v, _ in kept) >= 2 for verb in VERBS)
        nouns_ok = all(sum(n == noun.en for _, n in kept) >= 2 for noun in NOUNS)
        if verbs_ok and nouns_ok:
            return [c for c in combos if c in held]  # grammar order


def make_toy_corpus(seed: int = 0, size: int = DEFAULT_SIZE) -> ToyCorpus:
    """Generate the bundled English->French corpus and split it.

    The grammar generates every sentence of the form *subject verb object*, with or
    without negation, with the French conjugation, gender, elision and adjective position
    right (about 36,000 sentences). Then:

    * ``generalisation``: all ~200 negated sentences with "drink", a construction never
      seen in training;
    * ``size`` of the other sentences are sampled (the examples in
      :data:`ANCHOR_SENTENCES` are always in);
    * ``held_out_combinations``: ~10% of the verb-noun combinations (always including
      ("hate", "pizza")) are chosen with the seed; all their sampled sentences go to ``test``;
    * ``valid``: a seeded 5% of the rest; ``train``: everything else.

    So ``train + valid + test`` holds ``size`` pairs. The same seed always gives the same
    corpus. Returns a :class:`ToyCorpus`.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise CourseLibError(f"make_toy_corpus: seed must be an int, got {type(seed).__name__}")
    everything = grammar_sentences()
    construction = [s for s in everything if s.negated and s.verb == GENERALISATION_VERB]
    others = [s for s in everything if not (s.negated and s.verb == GENERALISATION_VERB)]
    if isinstance(size, bool) or not isinstance(size, int) or not 100 <= size <= len(others):
        raise CourseLibError(
            f"make_toy_corpus: size must be an int from 100 to {len(others)} "
            f"(the sentences the grammar generates outside the generalisation set), got {size!r}"
        )
    rng = random.Random(seed)
    held_out = _choose_held_out(rng)
    anchors = set(ANCHOR_SENTENCES)
    chosen = [s for s in others if s.english in anchors]
    chosen += rng.sample([s for s in others if s.english not in anchors], size - len(chosen))
    rng.shuffle(chosen)
    generalisation = [s.pair for s in construction]
    rng.shuffle(generalisation)

    held = set(held_out)
    train, valid, test = [], [], []
    for sentence in chosen:
        if (sentence.verb, sentence.noun) in held:
            test.append(sentence.pair)
        elif rng.random() < VALID_FRACTION:
            valid.append(sentence.pair)
        else:
            train.append(sentence.pair)
    description = (
        f"Bundled grammar corpus (seed {seed}): {len(chosen)} English->French pairs sampled "
        f"from the {len(everything)} the grammar generates ({len(SUBJECTS)} subjects, "
        f"{len(VERBS)} verbs, {len(NOUNS)} nouns, {len(ADJECTIVES)} adjectives, negation): "
        f"train {len(train)}, valid {len(valid)}, test {len(test)} "
        f"({len(held_out)} held-out verb-noun combinations, including hate+pizza); "
        f"plus generalisation {len(generalisation)} (every negated '{GENERALISATION_VERB}' "
        f"sentence, a construction never seen in training)."
    )
    return ToyCorpus(
        train,
        valid,
        test,
        generalisation,
        held_out,
        GENERALISATION_VERB,
        seed,
        description,
        chosen + list(construction),
    )


def word_counts(sentences: Iterable[str]) -> dict[str, int]:
    """How often each lower-cased, whitespace-separated word occurs.

    ``word_counts(["I love pizza", "I hate pizza"])`` ->
    ``{"i": 2, "love": 1, "pizza": 2, "hate": 1}`` (first-seen order).
    """
    counts: Counter[str] = Counter()
    for i, sentence in enumerate(sentences):
        if not isinstance(sentence, str):
            raise CourseLibError(
                f"word_counts: sentence {i} must be a str, got {type(sentence).__name__}"
            )
        counts.update(sentence.lower().split())
    return dict(counts)


__all__ = [
    "ANCHOR_SENTENCES",
    "HELD_OUT_FRACTION",
    "ToyCorpus",
    "make_toy_corpus",
    "word_counts",
]
