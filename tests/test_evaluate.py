"""Step 7: the one scoring path (course_lib.evaluate): BLEU, chrF, exact match."""

from __future__ import annotations

import pytest
from tiny_translator import train_tiny_model

from course_lib.data import make_toy_corpus
from course_lib.errors import CourseLibError
from course_lib.evaluate import (
    EvalResult,
    evaluate,
    normalize_text,
    reference_streams,
    score,
)
from course_lib.translate import Translator


@pytest.fixture(scope="module")
def tiny():
    return train_tiny_model()


# ----------------------------------------------------------------------------- scoring


def test_normalize_text_only_removes_typography():
    assert normalize_text(" a \t b\n") == "a b"
    assert normalize_text("J\u2019aime\u00a0la\u202fpizza !") == "J'aime la pizza !"
    assert normalize_text("e\u0301te\u0301") == "\u00e9t\u00e9"  # NFC: one code point per letter
    assert normalize_text("Je t'aime !") == "Je t'aime !"  # case and punctuation kept
    assert normalize_text("") == ""


def test_exact_match_normalises_typography_only():
    refs = [["J\u2019aime la pizza"], ["Je mange", "Je mange du pain"]]
    assert score(["  J'aime   la pizza ", "Je mange du pain"], refs).exact_match == 1.0
    assert score(["j'aime la pizza", "Je mange"], refs).exact_match == 0.5  # case counts
    assert score(["Je mange du pain."], [["Je mange du pain"]]).exact_match == 0.0  # punctuation


def test_unk_never_matches_and_references_are_never_skipped():
    """The one <unk> rule: the model's <unk> is literal text, references are all kept."""
    hyps = ["Je mange un <unk>", "J'aime la pizza"]
    refs = [["Je mange un kiwi"], ["J'aime la pizza"]]
    result = score(hyps, refs, sources=["I eat a kiwi", "I love pizza"])
    assert result.n == 2 and result.exact_match == 0.5
    assert result.mistakes() == [("I eat a kiwi", "Je mange un <unk>", ["Je mange un kiwi"])]
    assert result.bleu < 100 and result.chrf < 100  # the <unk> is a wrong word
    # even a reference that itself reads "<unk>" is a reference like any other
    assert score(["<unk>"], [["<unk>"]]).exact_match == 1.0


def test_bleu_and_chrf_use_the_normalised_strings():
    typographic = score(["J'aime la pizza !"], [["J\u2019aime la\u202fpizza\u00a0!"]])
    assert typographic.bleu == pytest.approx(100.0) and typographic.chrf == pytest.approx(100.0)
    assert typographic.hypotheses == ["J'aime la pizza !"]
    assert typographic.references == [["J'aime la pizza !"]]


def test_reference_streams_pad_with_none():
    assert reference_streams([["a"], ["b", "c"]]) == [["a", "b"], [None, "c"]]


def test_score_perfect_and_multi_reference():
    hyps = ["J'aime la pizza", "Il mange du pain", "Nous buvons de l'eau"]
    refs = [["J'aime la pizza"], ["Il mange le pain", "Il mange du pain"], ["Nous buvons de l'eau"]]
    result = score(hyps, refs, sources=["I love pizza", "He eats bread", "We drink water"])
    assert isinstance(result, EvalResult)
    assert result.bleu == pytest.approx(100.0)
    assert result.chrf == pytest.approx(100.0)
    assert result.exact_match == 1.0 and result.n == 3
    assert "nrefs:var" in result.signature and "chrF" in result.signature
    assert result.mistakes() == []
    assert set(result.to_dict()) == {"bleu", "chrf", "exact_match", "n", "signature"}
    # One reference only: the second hypothesis no longer matches.
    single = score(hyps, [r[:1] for r in refs])
    assert single.bleu < 100 and single.exact_match == pytest.approx(2 / 3)
    assert "nrefs:1" in single.signature


def test_score_bad_input():
    with pytest.raises(CourseLibError, match="empty list of hypotheses"):
        score([], [])
    with pytest.raises(CourseLibError, match="2 hypotheses but 1 reference lists"):
        score(["a", "b"], [["a"]])
    with pytest.raises(CourseLibError, match=r"references\[0\] must be a non-empty list"):
        score(["a"], ["a"])
    with pytest.raises(CourseLibError, match=r"references\[0\] must be a non-empty list"):
        score(["a"], [[]])
    with pytest.raises(CourseLibError, match="hypotheses must be a list of strings"):
        score("a", [["a"]])


def test_evaluate_groups_repeated_sources(tiny):
    model, src_tok, tgt_tok, pairs = tiny
    translator = Translator(model, src_tok, tgt_tok)
    data = [("I love pizza", "J'adore la pizza"), *pairs[:5], ("I love pizza", "J'aime la pizza")]
    result = evaluate(translator, data, batch_size=2)
    assert result.n == 6  # "I love pizza" once, with two references
    assert result.exact_match == 1.0
    assert result.sources[0] == "I love pizza"
    assert result.references[0] == ["J'adore la pizza", "J'aime la pizza"]
    assert evaluate(translator, data, max_sentences=2).n == 2
    beam = evaluate(translator, data, beam_size=2, progress=True)
    assert beam.exact_match == 1.0


def test_evaluate_with_a_plain_function_and_bad_input():
    data = [("a", "x"), ("b", "y")]
    result = evaluate(lambda sentences: ["x" for _ in sentences], data)
    assert result.exact_match == 0.5 and result.mistakes() == [("b", "x", ["y"])]
    with pytest.raises(CourseLibError, match="expected a list of 2 strings"):
        evaluate(lambda sentences: ["x"], data)
    with pytest.raises(CourseLibError, match="translator must be a Translator or a function"):
        evaluate("not a translator", data)
    with pytest.raises(CourseLibError, match="pairs is empty"):
        evaluate(lambda s: s, [])
    with pytest.raises(CourseLibError, match="max_sentences must be an integer >= 1"):
        evaluate(lambda s: s, data, max_sentences=0)
    with pytest.raises(CourseLibError, match="batch_size must be an integer >= 1"):
        evaluate(lambda s: s, data, batch_size=0)
    with pytest.raises(CourseLibError, match="apply to a course_lib.translate.Translator"):
        evaluate(lambda s: s, data, beam_size=2)


# ----------------------------------------------------------------------------- bundled


def test_bundled_held_out_exact_match_at_least_99_percent():
    result = evaluate(Translator.load("bundled"), make_toy_corpus().test)
    assert result.n >= 100
    assert result.exact_match >= 0.99, result.mistakes()[:5]
