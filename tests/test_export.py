"""`course-lib export`: the ONNX graphs agree with PyTorch, the page's JavaScript tokenizer
agrees with Python, and bad input gets one clear line.

Tolerance: the exported graphs run the same float32 arithmetic as PyTorch in a different
order, so logits may differ by rounding; we require at most ``LOGIT_TOLERANCE`` (absolute)
on every logit of every greedy step of real sentences, and identical greedy translations
on the whole held-out test split of the bundled corpus.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT, running_in_ci

import course_lib
from course_lib import cli, data
from course_lib import tokenize as tk
from course_lib.attention_maps import cross_attention
from course_lib.checkpoint import load_bundled
from course_lib.export import FILES, MANIFEST, WEB_FILES, export_graphs, tokenizer_rules
from course_lib.translate import Translator

pytest.importorskip("onnxruntime", reason="pip install 'course-lib[export]'")
from course_lib.onnx_translator import OnnxTranslator  # noqa: E402

LOGIT_TOLERANCE = 1e-4
ATTENTION_TOLERANCE = 1e-5
NODE_SCRIPT = ROOT / "tests" / "js" / "tokenize_corpus.js"
SITE_JS = ROOT / "scripts" / "install_site_js.py"


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("translator")
    assert cli.main(["export", "--checkpoint", "bundled", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def bundled():
    return load_bundled()


@pytest.fixture(scope="module")
def corpus():
    return data.make_toy_corpus()


def test_export_writes_every_file_and_the_manifest(exported, bundled):
    for name in (MANIFEST, *FILES.values(), *WEB_FILES):
        assert (exported / name).is_file(), name
    manifest = json.loads((exported / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["course_lib_version"] == course_lib.__version__
    assert manifest["config"] == bundled.config.to_dict()
    bundled_file = Path(course_lib.__file__).parent / "assets" / "toy_model.pt"
    assert manifest["checkpoint"]["sha256"] == hashlib.sha256(bundled_file.read_bytes()).hexdigest()
    assert manifest["checkpoint"]["name"] == "bundled"
    vocab = json.loads((exported / FILES["vocab"]).read_text(encoding="utf-8"))
    assert vocab["src"] == bundled.src_tokenizer.to_dict()
    assert vocab["tgt"] == bundled.tgt_tokenizer.to_dict()
    assert json.loads((exported / FILES["tokenizer"]).read_text("utf-8")) == tokenizer_rules()


def test_onnx_logits_and_attention_equal_pytorch_on_real_sentences(
    exported, bundled, corpus, one_thread
):
    """Every greedy step of 30 test sentences: logits within LOGIT_TOLERANCE, the
    page's attention map (mean over layers and heads) equal to chapter 7's."""
    model, src_tok, tgt_tok = bundled.model, bundled.src_tokenizer, bundled.tgt_tokenizer
    onnx = OnnxTranslator.load(exported)
    sentences = ["I hate pizza", "We don't eat the big red apples"] + [
        english for english, _ in corpus.test[:28]
    ]
    worst_logit, worst_attention = 0.0, 0.0
    for sentence in sentences:
        src_ids = src_tok.encode(sentence)
        result = onnx(sentence)
        memory = onnx.encode(src_ids)
        with torch.no_grad():
            src = torch.tensor([src_ids])
            torch_memory = model.encode(src)
            assert np.abs(memory - torch_memory.numpy()).max() < LOGIT_TOLERANCE
            for t in range(1, len(result.ids) + 1):
                prefix = [tk.START, *result.ids[: t - 1]]
                logits, _ = onnx.step(prefix, memory, src_ids)
                expected = model.decode(torch.tensor([prefix]), torch_memory)[0, -1].numpy()
                worst_logit = max(worst_logit, float(np.abs(logits - expected).max()))
        alignment = cross_attention(model, sentence, src_tok, tgt_tok)
        assert alignment.target_tokens == result.target_tokens
        assert alignment.source_tokens == result.source_tokens
        difference = np.abs(result.attention - alignment.average().numpy()).max()
        worst_attention = max(worst_attention, float(difference))
    print(f"max |logit difference| {worst_logit:.2e}, attention {worst_attention:.2e}")
    assert worst_logit < LOGIT_TOLERANCE
    assert worst_attention < ATTENTION_TOLERANCE


@pytest.mark.slow
def test_greedy_translations_equal_pytorch_on_the_whole_test_split(
    exported, bundled, corpus, one_thread
):
    sources = sorted({english for english, _ in corpus.test})
    expected = Translator.from_checkpoint(bundled)(sources)
    onnx = OnnxTranslator.load(exported)
    got = [onnx(sentence).translation for sentence in sources]
    differ = [(s, e, g) for s, e, g in zip(sources, expected, got) if e != g]
    print(f"identical greedy translations: {len(sources) - len(differ)} of {len(sources)}")
    assert not differ, differ[:5]
    assert onnx("I hate pizza").translation == "Je déteste la pizza"


def test_onnx_translator_reports_unknown_words_and_refuses_empty_and_long(exported):
    onnx = OnnxTranslator.load(exported)
    result = onnx("I love sushi")
    assert result.unknown_words == ["sushi"]
    assert result.source_tokens == ["i", "love", "<unk>"]
    assert result.attention.shape == (len(result.ids), 3)
    np.testing.assert_allclose(result.attention.sum(axis=1), 1.0, atol=1e-5)
    with pytest.raises(course_lib.CourseLibError, match="empty"):
        onnx("   ")
    with pytest.raises(course_lib.CourseLibError, match="max_len=64"):
        onnx(" ".join(["pizza"] * 65))
    with pytest.raises(course_lib.CourseLibError, match="not an exported translator"):
        OnnxTranslator.load(exported.parent)


def test_export_restores_the_models_training_flag(tmp_path, bundled):
    model = bundled.model
    for training in (True, False):
        model.train(training)
        export_graphs(model, tmp_path)
        assert model.training is training
    model.eval()


def test_export_command_bad_input_is_one_clear_line(tmp_path, capsys):
    missing = tmp_path / "no-such-run"
    assert cli.main(["export", "--checkpoint", str(missing), "--out", str(tmp_path / "o")]) == 2
    assert f"checkpoint not found: {missing}" in capsys.readouterr().err
    empty_run = tmp_path / "empty-run"
    empty_run.mkdir()
    assert cli.main(["export", "--checkpoint", str(empty_run), "--out", str(tmp_path / "o")]) == 2
    assert "no checkpoint.pt in the directory" in capsys.readouterr().err
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    assert cli.main(["export", "--out", str(a_file)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("course-lib export: error: ") and "is not a directory" in err
    assert "Traceback" not in err


def test_export_command_without_onnx_says_what_to_install(tmp_path, capsys, monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "onnx" else real_find_spec(name)
    )
    assert cli.main(["export", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert 'pip install "course-lib[export]"' in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()  # nothing written


def node_or_skip() -> str:
    node = shutil.which("node")
    if node is None:
        message = "Node.js not found: the JavaScript tokenizer was not tested"
        if running_in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return node


def test_javascript_tokenizer_equals_python_on_the_whole_corpus(corpus):
    """tokenize_en, tokenize_fr and detokenize_fr of web/tokenizer.js (run by Node) against
    Python on every pair of the bundled corpus, plus harder sentences."""
    pairs = corpus.train + corpus.valid + corpus.test + corpus.generalisation
    english = [e for e, _ in pairs] + [
        "I don't like pizza!",
        "It's 8:30, isn’t it?",
        "Café-crème... naïve ÉCOLE_1",
        "  ",
        "3.5 kg; 1,000 $",
    ]
    french = [f for _, f in pairs] + [
        "J'aime l'eau !",
        "Aujourd'hui, qu'il pleuve… c'est « bon »",
        "Jusqu'à 8:30 ?",
    ]
    french_tokens = [tk.tokenize_fr(sentence) for sentence in french]
    payload = {"rules": tokenizer_rules(), "en": english, "fr": french, "fr_tokens": french_tokens}
    result = subprocess.run(
        [node_or_skip(), str(NODE_SCRIPT)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert len(out["en"]) == len(english) > 6000
    for sentence, tokens in zip(english, out["en"]):
        assert tokens == tk.tokenize_en(sentence), sentence
    for sentence, tokens in zip(french, out["fr"]):
        assert tokens == tk.tokenize_fr(sentence), sentence
    for tokens, text in zip(french_tokens, out["fr_text"]):
        assert text == tk.detokenize_fr(tokens), tokens


def test_the_site_serves_only_onnxruntime_webs_single_wasm_build():
    spec = importlib.util.spec_from_file_location("install_site_js", SITE_JS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert ("onnxruntime-web", "1.30.0") in [(name, v) for name, v, _, _ in module.PACKAGES]
    wanted = module.wanted
    for name in ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"):
        assert wanted("onnxruntime-web", f"package/dist/{name}") == name
    for name in ("ort.all.min.js", "ort-wasm-simd-threaded.jsep.wasm", "ort.wasm.min.mjs.map"):
        assert wanted("onnxruntime-web", f"package/dist/{name}") is None
