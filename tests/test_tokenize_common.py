"""Step 2a: what both tokenizers share - rebuilding from a dict, unknown_rate (course_lib.tokenize.common)."""

from __future__ import annotations

import pytest

from course_lib.errors import CourseLibError
from course_lib.tokenize import (
    Vocab,
    tokenizer_from_dict,
    unknown_rate,
)


def test_unknown_rate_word_versus_bpe(bpe, fr_tok):
    real = ["J'aime les pizzas.", "Tu bois du thé vert ?", "Nous regardons la télévision."]
    assert unknown_rate(fr_tok, real) > 0.1
    assert unknown_rate(bpe, real) == 0.0
    with pytest.raises(CourseLibError, match="no sentences given"):
        unknown_rate(bpe, [])


def test_tokenizer_from_dict_with_problems():
    with pytest.raises(CourseLibError, match="'kind' must be 'word' or 'bpe', got 'char'"):
        tokenizer_from_dict({"kind": "char"})
    with pytest.raises(CourseLibError, match="'kind' must be 'word' or 'bpe', got None"):
        tokenizer_from_dict([1, 2])
    with pytest.raises(CourseLibError, match="expected {'format': 'course_lib.vocab'"):
        tokenizer_from_dict({"kind": "word", "language": "fr", "vocab": {}})
    with pytest.raises(CourseLibError, match="language must be 'en' or 'fr'"):
        tokenizer_from_dict({"kind": "word", "language": "de", "vocab": Vocab.build([]).to_dict()})
