"""Step 7: translate, score and look inside (course_lib.translate).

Most tests use a tiny model (d_model 32, 1 + 1 layers) trained here for a few seconds
until it has memorised ~50 pairs of the bundled corpus, so its translations are known.
The tests marked with the bundled checkpoint check the shipped model's promises.
"""

from __future__ import annotations

import pytest
import torch

from course_lib.checkpoint import save_checkpoint
from course_lib.config import TransformerConfig
from course_lib.data import make_toy_corpus
from course_lib.errors import CourseLibError
from course_lib.model import Transformer
from course_lib.tokenize import PAD, UNK, WordTokenizer
from course_lib.train import teacher_forcing
from course_lib.translate import (
    Alignment,
    AttentionMaps,
    EvalResult,
    Translator,
    attention_maps,
    cross_attention,
    default_max_new_tokens,
    evaluate,
    exact_match,
    hard_alignment,
    load_checkpoint_or_bundled,
    normalize_whitespace,
    plot_alignment,
    plot_attention_heads,
    plot_attention_maps,
    plot_cross_attention,
    reference_streams,
    score,
    strip_special,
    translate,
)

MAX_LEN = 24


def _tiny_pairs() -> list[tuple[str, str]]:
    corpus = make_toy_corpus()
    pairs = [p for p in corpus.train if len(p[0].split()) <= 4][:48]
    return pairs + [("I love pizza", "J'aime la pizza")]


def train_tiny_model():
    """(model, src_tokenizer, tgt_tokenizer, pairs): a model that memorised ``pairs``."""
    torch.manual_seed(0)
    pairs = _tiny_pairs()
    src_tok = WordTokenizer.fit([e for e, _ in pairs], "en")
    tgt_tok = WordTokenizer.fit([f for _, f in pairs], "fr")
    config = TransformerConfig(
        src_vocab_size=src_tok.vocab_size,
        tgt_vocab_size=tgt_tok.vocab_size,
        d_model=32,
        n_heads=2,
        n_encoder_layers=1,
        n_decoder_layers=1,
        d_ff=64,
        dropout=0.0,
        max_len=MAX_LEN,
    )
    model = Transformer(config)

    def pad(rows):
        out = torch.full((len(rows), max(map(len, rows))), PAD, dtype=torch.long)
        for i, row in enumerate(rows):
            out[i, : len(row)] = torch.tensor(row)
        return out

    src = pad([src_tok.encode(e) for e, _ in pairs])
    decoder_input, labels = teacher_forcing(pad([tgt_tok.encode(f) for _, f in pairs]))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: one thread is fastest on a busy machine
    try:
        for _ in range(120):
            logits = model(src, decoder_input)
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=PAD
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    finally:
        torch.set_num_threads(threads)
    model.eval()
    return model, src_tok, tgt_tok, pairs


@pytest.fixture(scope="module")
def tiny():
    return train_tiny_model()


# ----------------------------------------------------------------------------- translate


def test_translate_string_and_list(tiny):
    model, src_tok, tgt_tok, pairs = tiny
    assert translate(model, "I love pizza", src_tok, tgt_tok) == "J'aime la pizza"
    sources = [e for e, _ in pairs]
    out = translate(model, sources, src_tok, tgt_tok)
    assert isinstance(out, list) and len(out) == len(pairs)
    assert out == [f for _, f in pairs]  # memorised, detokenised with elision and capitals


def test_translate_keeps_order_whatever_the_batch_size(tiny):
    model, src_tok, tgt_tok, pairs = tiny
    sources = [e for e, _ in pairs][::-1]
    assert translate(model, sources, src_tok, tgt_tok, batch_size=3) == translate(
        model, sources, src_tok, tgt_tok, batch_size=64
    )
    assert translate(model, tuple(sources[:2]), src_tok, tgt_tok) == translate(
        model, sources[:2], src_tok, tgt_tok
    )


def test_beam_search_agrees_on_memorised_sentences(tiny):
    model, src_tok, tgt_tok, pairs = tiny
    sources = [e for e, _ in pairs[:10]]
    assert translate(model, sources, src_tok, tgt_tok, beam_size=3) == [f for _, f in pairs[:10]]


def test_empty_and_whitespace_give_empty_without_running_the_model(tiny):
    model, src_tok, tgt_tok, _ = tiny
    calls = []
    handle = model.encoder.register_forward_hook(lambda *args: calls.append(1))
    try:
        assert translate(model, "", src_tok, tgt_tok) == ""
        assert translate(model, " \t\n ", src_tok, tgt_tok) == ""
        assert translate(model, ["", "   "], src_tok, tgt_tok) == ["", ""]
        assert translate(model, [], src_tok, tgt_tok) == []
    finally:
        handle.remove()
    assert calls == []


def test_unknown_words_become_unk_and_are_still_translated(tiny):
    model, src_tok, tgt_tok, _ = tiny
    assert UNK in src_tok.encode("I love sushi")
    out = translate(model, "I love sushi", src_tok, tgt_tok)
    assert isinstance(out, str) and out.strip()
    assert translate(model, "zzz qqq", src_tok, tgt_tok).strip()  # every word unknown


def test_too_long_input_is_a_clear_error_naming_the_limit(tiny):
    model, src_tok, tgt_tok, _ = tiny
    long = " ".join(["pizza"] * (MAX_LEN + 5))
    with pytest.raises(
        CourseLibError, match=rf"sentence 0 has {MAX_LEN + 5} tokens.*max_len={MAX_LEN}"
    ):
        translate(model, long, src_tok, tgt_tok)
    exactly = " ".join(["pizza"] * MAX_LEN)  # at the limit: fine
    assert isinstance(translate(model, exactly, src_tok, tgt_tok), str)


def test_truncate_translates_the_first_max_len_tokens(tiny):
    model, src_tok, tgt_tok, _ = tiny
    words = ["I", "love", "pizza"] + ["pizza"] * (MAX_LEN + 10)
    cut = " ".join(words[:MAX_LEN])
    assert translate(model, " ".join(words), src_tok, tgt_tok, truncate=True) == translate(
        model, cut, src_tok, tgt_tok
    )


def test_a_batch_mixing_every_kind_of_input(tiny):
    model, src_tok, tgt_tok, _ = tiny
    long = "I love " + " ".join(["pizza"] * (MAX_LEN + 3))
    batch = ["I love pizza", "", "I love sushi", "   ", long, "I love pizza"]
    with pytest.raises(CourseLibError, match=r"sentence 4 has"):
        translate(model, batch, src_tok, tgt_tok)
    out = translate(model, batch, src_tok, tgt_tok, truncate=True)
    assert len(out) == len(batch)
    assert out[0] == out[5] == "J'aime la pizza"
    assert out[1] == out[3] == ""
    assert out[2].strip() and isinstance(out[4], str)
    assert out[2] == translate(model, "I love sushi", src_tok, tgt_tok)


def test_translate_restores_training_mode(tiny):
    model, src_tok, tgt_tok, _ = tiny
    model.train()
    try:
        translate(model, "I love pizza", src_tok, tgt_tok)
        assert model.training
    finally:
        model.eval()


def test_max_new_tokens_limits_the_output(tiny):
    model, src_tok, tgt_tok, _ = tiny
    assert translate(model, "I love pizza", src_tok, tgt_tok, max_new_tokens=2) == "J'aime"
    assert default_max_new_tokens(3, 256) == 16
    assert default_max_new_tokens(200, 256) == 255


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"sentences": 42}, "sentences must be a string or a list of strings, got int"),
        ({"sentences": ["ok", None]}, r"sentences\[1\] must be a string, got NoneType"),
        ({"beam_size": 0}, "beam_size must be a positive integer, got 0"),
        ({"beam_size": 1.5}, "beam_size must be a positive integer"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"max_new_tokens": 0}, "max_new_tokens must be a positive integer"),
        ({"max_new_tokens": MAX_LEN + 1}, f"max_len={MAX_LEN}"),
        ({"src_tokenizer": "en"}, "src_tokenizer must be a tokenizer"),
        ({"tgt_tokenizer": None}, "tgt_tokenizer must be a tokenizer"),
        ({"model": torch.nn.Linear(2, 2)}, "model must be a course_lib.model.Transformer"),
    ],
)
def test_translate_bad_input(tiny, kwargs, message):
    model, src_tok, tgt_tok, _ = tiny
    args = {
        "model": model,
        "sentences": "I love pizza",
        "src_tokenizer": src_tok,
        "tgt_tokenizer": tgt_tok,
    }
    options = {k: v for k, v in kwargs.items() if k not in args}
    args.update({k: v for k, v in kwargs.items() if k in args})
    with pytest.raises(CourseLibError, match=message):
        translate(
            args["model"],
            args["sentences"],
            args["src_tokenizer"],
            args["tgt_tokenizer"],
            **options,
        )


def test_strip_special():
    assert strip_special([5, 9, 2, 0, 0]) == [5, 9]
    assert strip_special(torch.tensor([1, 5, 6])) == [5, 6]
    assert strip_special([0, 5]) == []


# ----------------------------------------------------------------------------- Translator


def test_translator_from_checkpoint_round_trip(tiny, tmp_path):
    model, src_tok, tgt_tok, _ = tiny
    save_checkpoint(
        tmp_path, model, src_tokenizer=src_tok, tgt_tokenizer=tgt_tok, metadata={"command": "test"}
    )
    translator = Translator.load(tmp_path)
    assert translator("I love pizza") == "J'aime la pizza"
    assert translator.translate(["I love pizza", ""]) == ["J'aime la pizza", ""]
    assert translator.metadata["command"] == "test"
    assert "d_model=32" in repr(translator)


def test_translator_bad_input(tiny, tmp_path):
    model, src_tok, tgt_tok, _ = tiny
    with pytest.raises(CourseLibError, match="without .model"):
        Translator.from_checkpoint(object())
    with pytest.raises(CourseLibError, match="model must be a course_lib.model.Transformer"):
        Translator("model", src_tok, tgt_tok)
    with pytest.raises(CourseLibError, match="checkpoint not found: .*missing"):
        Translator.load(tmp_path / "missing")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"this is not a checkpoint" * 10)
    with pytest.raises(CourseLibError, match="corrupt.pt"):
        load_checkpoint_or_bundled(corrupt)
    with pytest.raises(CourseLibError, match="must be 'bundled' or a path"):
        load_checkpoint_or_bundled(3)


# ----------------------------------------------------------------------------- scoring


def test_exact_match_normalises_whitespace_only():
    refs = [["J'aime la pizza"], ["Je mange", "Je mange du pain"]]
    assert exact_match(["  J'aime   la pizza ", "Je mange du pain"], refs) == 1.0
    assert exact_match(["j'aime la pizza", "Je mange"], refs) == 0.5  # case counts
    assert normalize_whitespace(" a \t b\n") == "a b"


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
    assert evaluate(translator, data, limit=2).n == 2
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
    with pytest.raises(CourseLibError, match="limit must be a positive integer"):
        evaluate(lambda s: s, data, limit=0)


# ----------------------------------------------------------------------------- attention


def test_cross_attention_shapes_and_rows(tiny):
    model, src_tok, tgt_tok, _ = tiny
    alignment = cross_attention(model, "I love pizza", src_tok, tgt_tok)
    assert isinstance(alignment, Alignment)
    assert alignment.translation == "J'aime la pizza"
    assert alignment.source_tokens == ["i", "love", "pizza"]
    assert alignment.target_tokens == ["j'", "aime", "la", "pizza", "<end>"]
    config = model.config
    assert alignment.weights.shape == (config.n_decoder_layers, config.n_heads, 5, 3)
    torch.testing.assert_close(alignment.weights.sum(-1), torch.ones(1, 2, 5))
    assert alignment.average().shape == (5, 3)
    assert alignment.average(0).shape == (5, 3)
    assert [t for t, _ in alignment.strongest_source()] == alignment.target_tokens


def test_cross_attention_matches_generation_step_weights(tiny):
    """The teacher-forced weights equal those greedy decoding recorded step by step."""
    from course_lib.generate import greedy_decode

    model, src_tok, tgt_tok, _ = tiny
    alignment = cross_attention(model, "I love pizza", src_tok, tgt_tok)
    src = torch.tensor([src_tok.encode("I love pizza")])
    result = greedy_decode(model, src, max_new_tokens=10, return_attention=True)
    recorded = torch.stack([w[0] for w in result.cross_attention])  # (L, H, steps, S)
    torch.testing.assert_close(alignment.weights, recorded, atol=1e-5, rtol=1e-5)


def test_cross_attention_of_a_given_translation_and_unknown_words(tiny):
    model, src_tok, tgt_tok, _ = tiny
    ids = tgt_tok.encode("J'aime la pizza")
    alignment = cross_attention(model, "I love sushi", src_tok, tgt_tok, translation_ids=ids)
    assert alignment.source_tokens == ["i", "love", "<unk>"]
    assert alignment.translation == "J'aime la pizza"
    assert alignment.weights.shape[2] == len(ids) + 1


def test_cross_attention_bad_input(tiny):
    model, src_tok, tgt_tok, _ = tiny
    with pytest.raises(CourseLibError, match="sentence is empty"):
        cross_attention(model, "  ", src_tok, tgt_tok)
    with pytest.raises(CourseLibError, match="sentence must be a string"):
        cross_attention(model, ["I love pizza"], src_tok, tgt_tok)
    with pytest.raises(CourseLibError, match="translation_ids must be a list"):
        cross_attention(model, "I love pizza", src_tok, tgt_tok, translation_ids="J'aime")


def test_attention_maps_hold_all_three_kinds(tiny):
    model, src_tok, tgt_tok, _ = tiny
    maps = attention_maps(model, "I love pizza", src_tok, tgt_tok)
    assert isinstance(maps, AttentionMaps)
    config = model.config
    assert maps.translation == "J'aime la pizza"
    assert maps.source_tokens == ["i", "love", "pizza"]
    assert maps.target_tokens == ["j'", "aime", "la", "pizza", "<end>"]
    assert maps.decoder_tokens == ["<start>", "j'", "aime", "la", "pizza"]
    heads = config.n_heads
    assert maps.encoder_self.shape == (config.n_encoder_layers, heads, 3, 3)
    assert maps.decoder_self.shape == (config.n_decoder_layers, heads, 5, 5)
    assert maps.cross.shape == (config.n_decoder_layers, heads, 5, 3)
    for kind in AttentionMaps.KINDS:
        weights = maps.weights(kind)
        torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1]))
        rows, cols = maps.labels(kind)
        assert (len(rows), len(cols)) == tuple(weights.shape[-2:])
    # the causal mask: no weight on a French token after the one being read
    assert maps.decoder_self.triu(diagonal=1).abs().max() == 0
    # the cross-attention part is exactly cross_attention()'s alignment
    alignment = cross_attention(model, "I love pizza", src_tok, tgt_tok)
    torch.testing.assert_close(maps.alignment().weights, alignment.weights)
    assert maps.alignment().target_tokens == alignment.target_tokens


def test_attention_maps_match_the_model_weights(tiny):
    """Encoder weights equal those of model.encode; decoder self-attention rows equal the
    weights the cached generation steps used."""
    model, src_tok, tgt_tok, _ = tiny
    maps = attention_maps(model, "I love pizza", src_tok, tgt_tok)
    src = torch.tensor([src_tok.encode("I love pizza")])
    with torch.no_grad():
        memory, encoder_weights = model.encode(src, return_weights=True)
        cache = model.new_cache()
        ids = [1] + tgt_tok.encode("J'aime la pizza")  # <start> j' aime la pizza
        for t, token in enumerate(ids):
            _, step = model.decode(
                torch.tensor([[token]]), memory, cache=cache, start=t, return_weights=True
            )
            for layer, weights in enumerate(step["self"]):  # (1, heads, 1, t + 1)
                torch.testing.assert_close(
                    maps.decoder_self[layer, :, t, : t + 1], weights[0, :, 0], atol=1e-5, rtol=1e-5
                )
    torch.testing.assert_close(maps.encoder_self, torch.stack([w[0] for w in encoder_weights]))


def test_attention_maps_bad_input(tiny):
    model, src_tok, tgt_tok, _ = tiny
    with pytest.raises(CourseLibError, match="sentence is empty"):
        attention_maps(model, " ", src_tok, tgt_tok)
    maps = attention_maps(model, "I love pizza", src_tok, tgt_tok)
    with pytest.raises(CourseLibError, match="kind must be one of"):
        maps.weights("self")
    with pytest.raises(CourseLibError, match="kind must be one of"):
        plot_attention_heads(maps, "decoder")
    with pytest.raises(CourseLibError, match="expected AttentionMaps"):
        plot_attention_maps(maps.alignment())


def test_attention_plots_are_labelled_with_a_colour_bar(tiny):
    import matplotlib.pyplot as plt

    model, src_tok, tgt_tok, _ = tiny
    maps = attention_maps(model, "I love pizza", src_tok, tgt_tok)
    before = plt.get_fignums()
    figure = plot_attention_maps(maps)
    assert plt.get_fignums() == before  # closed: shown once in a notebook
    layers = max(model.config.n_encoder_layers, model.config.n_decoder_layers)
    assert len(figure.axes) == 3 * layers + 1
    assert figure.axes[-1].get_ylabel() == "attention weight"
    encoder, decoder, cross = figure.axes[0], figure.axes[layers], figure.axes[2 * layers]
    assert [t.get_text() for t in encoder.get_xticklabels()] == ["i", "love", "pizza"]
    assert [t.get_text() for t in decoder.get_xticklabels()][0] == "<start>"
    assert [t.get_text() for t in decoder.get_yticklabels()][-1] == "<end>"
    assert [t.get_text() for t in cross.get_xticklabels()] == ["i", "love", "pizza"]
    assert "masked self-attention" in decoder.get_title()
    assert encoder.get_ylabel() and encoder.get_xlabel()
    for kind in AttentionMaps.KINDS:
        heads = plot_attention_heads(maps, kind)
        n_layers, n_heads = maps.weights(kind).shape[:2]
        assert len(heads.axes) == n_layers * n_heads + 1
        assert heads.axes[-1].get_ylabel() == "attention weight"
        assert heads.axes[0].get_title() == "layer 1 head 1"


def test_hard_alignment():
    weights = torch.zeros(2, 2, 3, 4)
    weights[..., 0, 1] = 1.0
    weights[..., 1, 3] = 1.0
    weights[..., 2, 0] = 1.0
    assert hard_alignment(weights).tolist() == [1, 3, 0]
    with pytest.raises(
        CourseLibError, match=r"shape \(layers, heads, tgt_len, src_len\), got \(3, 4\)"
    ):
        hard_alignment(torch.zeros(3, 4))
    with pytest.raises(CourseLibError, match="floating-point tensor"):
        hard_alignment(torch.zeros(1, 1, 2, 2, dtype=torch.long))
    with pytest.raises(CourseLibError, match="empty"):
        hard_alignment(torch.zeros(1, 1, 0, 2))


def test_plots_are_labelled(tiny):
    model, src_tok, tgt_tok, _ = tiny
    alignment = cross_attention(model, "I love pizza", src_tok, tgt_tok)
    figure = plot_cross_attention(alignment)
    n_layers, n_heads = alignment.weights.shape[:2]
    assert len(figure.axes) == (n_layers + 1) * (n_heads + 1) + 1  # + the colour bar
    assert figure.axes[-1].get_ylabel() == "attention weight"
    average = figure.axes[-2]
    assert average.get_title() == "mean of all"
    assert [t.get_text() for t in average.get_xticklabels()] == ["i", "love", "pizza"]
    assert [t.get_text() for t in average.get_yticklabels()][-1] == "<end>"
    assert average.get_xlabel() == "English (source)"
    ax = plot_alignment(alignment, layer=0, head=1)
    assert ax.get_title() == "layer 1, head 2"
    with pytest.raises(CourseLibError, match=r"head must be None or in 0..1, got 5"):
        plot_alignment(alignment, head=5)
    with pytest.raises(CourseLibError, match="expected an Alignment"):
        plot_cross_attention("not an alignment")


# ----------------------------------------------------------------------------- bundled


@pytest.fixture(scope="module")
def bundled():
    return Translator.load("bundled")


def test_bundled_translates_i_hate_pizza(bundled):
    corpus = make_toy_corpus()
    assert "I hate pizza" not in {e for e, _ in corpus.train + corpus.valid}
    assert bundled("I hate pizza").rstrip(".") == "Je déteste la pizza"


def test_bundled_held_out_exact_match_at_least_99_percent(bundled):
    result = evaluate(bundled, make_toy_corpus().test)
    assert result.n >= 100
    assert result.exact_match >= 0.99, result.mistakes()[:5]
