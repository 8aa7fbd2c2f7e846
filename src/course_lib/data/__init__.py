"""Step 1: paired sentences - the bundled grammar corpus, the Tatoeba loader, grouped splits.

A translation data set is a list of ``(English, French)`` pairs of plain strings
(:mod:`~course_lib.data.pairs`). The package provides two of them and the splits:

* :mod:`~course_lib.data.lexicon` and :mod:`~course_lib.data.grammar`: the words and the
  rules of a small grammar written for the course; :func:`toy_pair` builds one sentence
  ("I love pizza" -> "J'aime la pizza").
* :mod:`~course_lib.data.toy_corpus`: :func:`make_toy_corpus`, the **bundled corpus**,
  sampled from the grammar with a seed. It needs no download and holds out some verb-noun
  combinations (always "I hate pizza") so chapter 7 can translate unseen sentences.
* :mod:`~course_lib.data.tatoeba`: :func:`load_tatoeba`, the **real corpus** (Tatoeba
  English-French pairs, CC-BY 2.0 FR), from a local file or by download with a SHA-256
  check and a cache.
* :mod:`~course_lib.data.splits`: :func:`split_by_source` keeps all translations of one
  English sentence in the same split; :func:`group_references` collects them as the
  multiple references used for evaluation.

Chapters write ``from course_lib import data`` and use ``data.make_toy_corpus(...)``: every
public name of the modules above is available here.
"""

from course_lib.data.grammar import (
    ToySentence,
    grammar_sentences,
    join_french,
    toy_pair,
    verb_noun_combinations,
)
from course_lib.data.lexicon import ADJECTIVES, NOUNS, SUBJECTS, VERBS
from course_lib.data.pairs import Pair
from course_lib.data.splits import Splits, group_references, leaked_sources, split_by_source
from course_lib.data.tatoeba import (
    TATOEBA_SHA256,
    TATOEBA_URL,
    default_cache_dir,
    download,
    load_tatoeba,
    local_tatoeba_path,
    read_pairs_tsv,
    sha256_of,
)
from course_lib.data.toy_corpus import (
    ANCHOR_SENTENCES,
    HELD_OUT_FRACTION,
    ToyCorpus,
    make_toy_corpus,
    word_counts,
)

__all__ = [
    "ADJECTIVES",
    "ANCHOR_SENTENCES",
    "HELD_OUT_FRACTION",
    "NOUNS",
    "SUBJECTS",
    "TATOEBA_SHA256",
    "TATOEBA_URL",
    "VERBS",
    "Pair",
    "Splits",
    "ToyCorpus",
    "ToySentence",
    "default_cache_dir",
    "download",
    "grammar_sentences",
    "group_references",
    "join_french",
    "leaked_sources",
    "load_tatoeba",
    "local_tatoeba_path",
    "make_toy_corpus",
    "read_pairs_tsv",
    "sha256_of",
    "split_by_source",
    "toy_pair",
    "verb_noun_combinations",
    "word_counts",
]
