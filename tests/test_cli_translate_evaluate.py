"""`course-lib translate` and `course-lib evaluate`: happy paths and clear failures.

Each failure must exit non-zero with one readable line on stderr and no traceback, both
through ``cli.main`` (in process) and through the real entry point (a subprocess).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from course_lib import cli
from course_lib.checkpoint import save_checkpoint
from course_lib.config import TransformerConfig
from course_lib.data import group_references, make_toy_corpus
from course_lib.files import CHECKPOINT_FILE, METRICS_FILE
from course_lib.model import Transformer
from course_lib.tokenize import WordTokenizer
from course_lib.translate import Translator

# A few lines in the Anki/Tatoeba export's layout: English, French, attribution.
TATOEBA_LINES = [
    f"{english}\t{french}\tCC-BY 2.0 (France) Attribution: tatoeba.org #{i} (test)"
    for i, (english, french) in enumerate(
        [("Go.", "Va !"), ("Go.", "Marche."), ("Hi.", "Salut !"), ("Run!", "Cours !")]
        + [(f"I love pizza {i}.", f"J'aime la pizza {i}.") for i in range(400)]
    )
]


def run_cli(*args: str, stdin: str | None = None, env: dict | None = None):
    """Run ``python -m course_lib ARGS`` in a subprocess; returns the CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-m", "course_lib", *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TQDM_DISABLE": "1", **(env or {})},
    )


def assert_one_clear_line(stderr: str, *fragments: str) -> None:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("course-lib "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def checkpoint_dir(tmp_path_factory) -> Path:
    """An untrained but complete checkpoint: enough to test the plumbing quickly."""
    torch.manual_seed(0)
    english = ["I love pizza", "She eats bread", "We drink water"]
    french = ["J'aime la pizza", "Elle mange du pain", "Nous buvons de l'eau"]
    src_tok, tgt_tok = WordTokenizer.fit(english, "en"), WordTokenizer.fit(french, "fr")
    config = TransformerConfig(
        src_vocab_size=src_tok.vocab_size,
        tgt_vocab_size=tgt_tok.vocab_size,
        d_model=16,
        n_heads=2,
        n_encoder_layers=1,
        n_decoder_layers=1,
        d_ff=32,
        max_len=32,
    )
    folder = tmp_path_factory.mktemp("run")
    save_checkpoint(folder, Transformer(config), src_tokenizer=src_tok, tgt_tokenizer=tgt_tok)
    return folder


@pytest.fixture()
def corrupt_checkpoints(tmp_path, checkpoint_dir) -> dict[str, Path]:
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(os.urandom(4096))
    truncated = tmp_path / "truncated.pt"
    data = (checkpoint_dir / CHECKPOINT_FILE).read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    empty_dir = tmp_path / "empty_run"
    empty_dir.mkdir()
    empty_file = tmp_path / "empty.pt"
    empty_file.write_bytes(b"")
    return {
        "garbage": garbage,
        "truncated": truncated,
        "empty_dir": empty_dir,
        "empty_file": empty_file,
    }


# ----------------------------------------------------------------------------- failures


@pytest.mark.parametrize("command", ["translate", "evaluate"])
def test_missing_checkpoint_in_process(command, tmp_path, capsys):
    missing = tmp_path / "no_such_run"
    args = [command, "--checkpoint", str(missing)] + (
        ["I love pizza"] if command == "translate" else []
    )
    code = cli.main(args)
    captured = capsys.readouterr()
    assert code != 0
    assert_one_clear_line(captured.err, "checkpoint not found", str(missing))
    assert captured.out == ""


@pytest.mark.parametrize("kind", ["garbage", "truncated", "empty_dir", "empty_file"])
@pytest.mark.parametrize("command", ["translate", "evaluate"])
def test_corrupt_checkpoint_in_process(command, kind, corrupt_checkpoints, capsys):
    path = corrupt_checkpoints[kind]
    args = [command, "--checkpoint", str(path)] + (
        ["I love pizza"] if command == "translate" else []
    )
    code = cli.main(args)
    captured = capsys.readouterr()
    assert code != 0
    assert_one_clear_line(captured.err, path.name)


@pytest.mark.parametrize("command", ["translate", "evaluate"])
def test_missing_and_corrupt_checkpoint_subprocess(command, tmp_path, corrupt_checkpoints):
    extra = ["I love pizza"] if command == "translate" else []
    missing = run_cli(command, "--checkpoint", str(tmp_path / "nope"), *extra)
    assert missing.returncode != 0
    assert_one_clear_line(missing.stderr, "checkpoint not found")
    corrupt = run_cli(command, "--checkpoint", str(corrupt_checkpoints["garbage"]), *extra)
    assert corrupt.returncode != 0
    assert_one_clear_line(corrupt.stderr, "garbage.pt")


def test_bad_options_are_clear(checkpoint_dir, tmp_path, capsys):
    assert cli.main(["translate", "--checkpoint", str(checkpoint_dir), "--beam", "0", "x"]) == 2
    assert_one_clear_line(capsys.readouterr().err, "--beam must be at least 1, got 0")
    assert cli.main(["evaluate", "--checkpoint", str(checkpoint_dir), "--limit", "0"]) == 2
    assert_one_clear_line(capsys.readouterr().err, "--limit must be at least 1, got 0")
    missing = tmp_path / "missing.tsv"
    assert (
        cli.main(["evaluate", "--checkpoint", str(checkpoint_dir), "--corpus", str(missing)]) == 2
    )
    assert_one_clear_line(capsys.readouterr().err, "corpus not found", "missing.tsv")
    malformed = tmp_path / "bad.tsv"
    malformed.write_text("I love pizza\tJ'aime la pizza\nno tab here\n", encoding="utf-8")
    assert (
        cli.main(["evaluate", "--checkpoint", str(checkpoint_dir), "--corpus", str(malformed)]) == 2
    )
    assert_one_clear_line(capsys.readouterr().err, "line 2")
    long = " ".join(["pizza"] * 40)
    assert cli.main(["translate", "--checkpoint", str(checkpoint_dir), long]) == 2
    assert_one_clear_line(capsys.readouterr().err, "max_len=32")


# ----------------------------------------------------------------------------- translate


def test_translate_arguments_and_stdin(checkpoint_dir, capsys):
    translator = Translator.load(checkpoint_dir)
    sentences = ["I love pizza", "We drink water", "She eats sushi"]
    expected = translator.translate(sentences)
    assert cli.main(["translate", "--checkpoint", str(checkpoint_dir), *sentences]) == 0
    assert capsys.readouterr().out.splitlines() == expected

    result = run_cli(
        "translate", "--checkpoint", str(checkpoint_dir), stdin="I love pizza\n\nWe drink water\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [expected[0], "", expected[1]]
    dash = run_cli("translate", "--checkpoint", str(checkpoint_dir), "-", stdin="I love pizza\n")
    assert dash.stdout.splitlines() == [expected[0]]


def test_translate_long_input_with_truncate(checkpoint_dir, capsys):
    long = " ".join(["pizza"] * 40)
    code = cli.main(["translate", "--checkpoint", str(checkpoint_dir), "--truncate", long])
    assert code == 0
    assert len(capsys.readouterr().out.splitlines()) == 1


# ----------------------------------------------------------------------------- evaluate


def test_evaluate_tsv_with_alternative_references_json(checkpoint_dir, tmp_path, capsys):
    tsv = tmp_path / "test.tsv"
    tsv.write_text(
        "I love pizza\tJ'aime la pizza\n"
        "We drink water\tNous buvons de l'eau\n"
        "I love pizza\tJ'adore la pizza\tattribution column is ignored\n",
        encoding="utf-8",
    )
    args = ["evaluate", "--checkpoint", str(checkpoint_dir), "--corpus", str(tsv), "--json"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out.splitlines()
    result = json.loads(out[-1])
    assert set(result) >= {"bleu", "chrf", "exact_match", "n"}
    assert result["n"] == 2  # "I love pizza" once, with two references
    assert 0.0 <= result["exact_match"] <= 1.0
    assert any(line.startswith("signature:") and "nrefs:var" in line for line in out)


def test_evaluate_tatoeba_from_the_cache_offline(checkpoint_dir, tmp_path):
    """`--corpus tatoeba` reads the cached download; no network is needed once cached."""
    cache = tmp_path / "cache"
    cache.mkdir()
    with zipfile.ZipFile(cache / "fra-eng.zip", "w") as archive:
        archive.writestr("fra.txt", "\n".join(TATOEBA_LINES) + "\n")
    result = run_cli(
        "evaluate",
        "--checkpoint",
        str(checkpoint_dir),
        "--corpus",
        "tatoeba",
        "--limit",
        "10",
        "--json",
        env={"COURSE_LIB_CACHE": str(cache)},
    )
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout.splitlines()[-1])
    assert scores["n"] == 10  # the first 10 distinct English sentences of the test split


# ----------------------------------------------------------------------------- one evaluation path

# A tiny model for a few steps on the bundled corpus: seconds on a CPU.
TINY_RUN = {
    "d_model": 32,
    "n_heads": 2,
    "n_encoder_layers": 1,
    "n_decoder_layers": 1,
    "d_ff": 64,
    "max_len": 32,
    "training": {"batch_size": 16, "warmup_steps": 4, "eval_every": 1000},
}
SCORES = ("bleu", "chrf", "exact_match", "n", "signature")


def test_train_metrics_and_evaluate_give_identical_figures(tmp_path, capsys):
    """`course-lib train`'s metrics.json and `course-lib evaluate` score the same checkpoint
    on the same split through the same function: every figure is identical."""
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(TINY_RUN), encoding="utf-8")
    out = tmp_path / "run"
    threads = torch.get_num_threads()
    try:
        code = cli.main(
            ["train", "--corpus", "toy", "--out", str(out), "--config", str(config)]
            + ["--steps", "12", "--seed", "0", "--device", "cpu", "--threads", "1", "--quiet"]
        )
    finally:
        torch.set_num_threads(threads)
    assert code == 0, capsys.readouterr().err
    metrics = json.loads((out / METRICS_FILE).read_text(encoding="utf-8"))
    capsys.readouterr()

    args = ["evaluate", "--checkpoint", str(out), "--corpus", "toy", "--json", "--examples", "0"]
    assert cli.main(args) == 0
    evaluated = json.loads(capsys.readouterr().out.splitlines()[-1])

    trained = {name: metrics["test"][name] for name in SCORES}
    assert trained == {name: evaluated[name] for name in SCORES}
    assert trained["n"] == len(group_references(make_toy_corpus().test))
    assert trained["chrf"] > 0  # a real comparison: the figures are not all zero


# ----------------------------------------------------------------------------- bundled


def test_bundled_checkpoint_end_to_end():
    translated = run_cli("translate", "--checkpoint", "bundled", "I hate pizza")
    assert translated.returncode == 0, translated.stderr
    assert translated.stdout.strip().rstrip(".") == "Je déteste la pizza"
    evaluated = run_cli("evaluate", "--checkpoint", "bundled", "--corpus", "toy", "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    scores = json.loads(evaluated.stdout.splitlines()[-1])
    assert scores["exact_match"] >= 0.99 and scores["n"] >= 100
