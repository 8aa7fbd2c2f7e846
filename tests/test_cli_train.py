"""Tests for `course-lib train`: a small run, resume, Ctrl-C, and one-line errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from tiny_training import PAIRS as ALL_PAIRS
from tiny_training import TINY_FIELDS, train_command

from course_lib.checkpoint import load_checkpoint
from course_lib.cli import main

PAIRS = ALL_PAIRS[:8]
TINY = {**TINY_FIELDS, "training": {"eval_every": 3, "batch_size": 4}}


@pytest.fixture(autouse=True)
def keep_threads():
    """`--threads` sets torch's thread count for the process: restore it after each test."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "pairs.tsv"
    lines = [f"{e}{n}\t{f}\n" for n in ("", " today", " now") for e, f in PAIRS]
    path.write_text("".join(lines * 2), encoding="utf-8")
    return path


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(TINY))
    return path


def run_cli(*args, timeout=240):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", "course_lib.cli", "train", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def assert_clean_error(result, *fragments):
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("course-lib train: error:")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


# ----------------------------------------------------------------------------------------
# a run, then resume
# ----------------------------------------------------------------------------------------


def test_train_writes_checkpoint_and_metrics_then_resumes(tmp_path, corpus, tiny, capsys):
    out = tmp_path / "run"
    code = main(
        train_command(corpus, out, "--config", tiny, "--steps", 6, "--seed", 1, "--dropout", 0.2)
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "training on" in printed and "wrote" in printed and "step 3: valid loss" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 6 and metrics["stopped"] == "max_steps"
    assert {"bleu", "chrf", "exact_match", "n"} <= set(metrics["test"])
    assert [r["step"] for r in metrics["history"]["valid"]] == [3, 6]
    checkpoint = load_checkpoint(out)
    assert checkpoint.training["step"] == 6
    assert checkpoint.metadata["command"].startswith("course-lib train --corpus")
    assert checkpoint.metadata["split"] == {
        "valid_fraction": 0.05,
        "test_fraction": 0.05,
        "seed": 0,
    }
    assert checkpoint.config.d_model == 32 and checkpoint.config.norm_first  # file + recipe
    assert checkpoint.config.dropout == 0.2 and "--dropout 0.2" in checkpoint.metadata["command"]

    code = main(
        train_command(
            corpus, out, "--resume", "--steps", 9, "--weights-dtype", "float16", "--threads", 1
        )
    )
    assert code == 0
    assert "resuming from" in capsys.readouterr().out
    assert json.loads((out / "metrics.json").read_text())["steps"] == 9
    model_only = load_checkpoint(out / "model.pt")
    assert model_only.metadata["weights_dtype"] == "float16"
    assert "--threads 1" in model_only.metadata["command"]


def test_ctrl_c_saves_a_checkpoint_before_exiting(tmp_path, corpus, tiny):
    out = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "course_lib.cli",
            *train_command(corpus, out, "--config", tiny, "--steps", 10**6, "--eval-every", 10**6),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        first = process.stdout.readline()  # printed just before the loop starts
        assert "training on" in first, first + process.stderr.read()
        time.sleep(1.5)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert "interrupted at step" in stderr and "checkpoint saved" in stderr
    assert "Traceback" not in stderr
    checkpoint = load_checkpoint(out / "checkpoint.pt")
    assert checkpoint.training["step"] >= 1
    assert checkpoint.training["history"]["stopped"] == "interrupted"
    assert checkpoint.optimizer is not None  # resumable


# ----------------------------------------------------------------------------------------
# one-line errors, no traceback
# ----------------------------------------------------------------------------------------


def test_missing_corpus(tmp_path):
    result = run_cli("--corpus", tmp_path / "nope.tsv", "--out", tmp_path / "run", "--steps", 1)
    assert_clean_error(result, "corpus not found", "nope.tsv")


def test_empty_corpus(tmp_path):
    empty = tmp_path / "empty.tsv"
    empty.write_text("")
    result = run_cli("--corpus", empty, "--out", tmp_path / "run", "--steps", 1)
    assert_clean_error(result, "empty.tsv", "empty")


def test_malformed_line_reports_its_number(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text(
        "I love pizza\tJ'aime la pizza\nI eat bread\tJe mange du pain\n"
        "this line has no tab\nWe love cats\tNous aimons les chats\n"
    )
    result = run_cli("--corpus", bad, "--out", tmp_path / "run", "--steps", 1)
    assert_clean_error(result, "bad.tsv", "line 3")


def test_output_path_is_a_file(tmp_path, corpus):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    result = run_cli("--corpus", corpus, "--out", blocker, "--steps", 1)
    assert_clean_error(result, "exists and is not a directory", "file.txt")
    result = run_cli("--corpus", corpus, "--out", blocker / "run", "--steps", 1)
    assert_clean_error(result, "cannot write to the output directory", "file.txt/run")


def _read_only_directory(tmp_path: Path) -> Path | None:
    """A directory this process cannot write into (root ignores chmod, but not /sys)."""
    if os.geteuid() != 0:
        folder = tmp_path / "read_only"
        folder.mkdir()
        folder.chmod(0o500)
        return folder
    candidate = Path("/sys/kernel")
    try:
        (candidate / "course_lib_probe").write_text("x")
    except OSError:
        return candidate
    return None


def test_unwritable_output_directory(tmp_path, corpus):
    folder = _read_only_directory(tmp_path)
    if folder is None:
        pytest.skip("no directory on this machine refuses writes from this user")
    result = run_cli("--corpus", corpus, "--out", folder, "--steps", 1)
    assert_clean_error(result, "cannot write to the output directory", str(folder))


def test_bad_options(tmp_path, corpus):
    result = run_cli("--corpus", corpus, "--out", tmp_path / "run", "--steps", 0)
    assert_clean_error(result, "--steps must be at least 1")
    result = run_cli("--corpus", corpus, "--out", tmp_path / "run", "--threads", 0)
    assert_clean_error(result, "--threads must be at least 1")
    result = run_cli("--corpus", corpus, "--out", tmp_path / "run", "--config", "huge")
    assert_clean_error(result, "config must be", "huge")
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    result = run_cli("--corpus", corpus, "--out", tmp_path / "run", "--config", bad_json)
    assert_clean_error(result, "not valid JSON")
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"d_model": 32, "colour": "red"}))
    result = run_cli(
        "--corpus", corpus, "--out", tmp_path / "run", "--config", unknown, "--steps", 1
    )
    assert_clean_error(result, "colour")
    result = run_cli("--corpus", corpus, "--out", tmp_path / "run", "--dropout", 1.5)
    assert_clean_error(result, "dropout")
    result = run_cli("--corpus", corpus, "--out", tmp_path / "fresh", "--resume", "--steps", 1)
    assert_clean_error(result, "nothing to resume")
    result = run_cli("--corpus", corpus, "--out", tmp_path / "run", "--resume", "--dropout", 0.1)
    assert_clean_error(result, "--resume keeps the checkpoint's")
