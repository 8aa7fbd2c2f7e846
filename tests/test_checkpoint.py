"""Tests for course_lib.checkpoint: round trips, a failed save keeps the old file, resume
equivalence, errors, and the bundled checkpoint (atomic writes themselves: test_files.py)."""

from __future__ import annotations

import pickle
import random

import pytest
import torch
from tiny_training import PAIRS as ALL_PAIRS
from tiny_training import tiny_model as shared_tiny_model
from tiny_training import tiny_settings
from tiny_training import tokenizers as fit_tokenizers

from course_lib.checkpoint import (
    FORMAT,
    FORMAT_VERSION,
    Checkpoint,
    bundled_path,
    load_bundled,
    load_checkpoint,
    resolve_checkpoint_path,
    restore_training_state,
    save_checkpoint,
)
from course_lib.errors import CourseLibError
from course_lib.optim import make_optimizer
from course_lib.trainer import Trainer, TrainSettings

PAIRS = ALL_PAIRS[:10]
pytestmark = pytest.mark.usefixtures("one_thread")


def tokenizers():
    return fit_tokenizers(PAIRS)


def tiny_model(src_tok, tgt_tok, dropout=0.1, seed=0, **overrides):
    return shared_tiny_model(src_tok, tgt_tok, dropout, seed, **overrides)


def settings(**overrides):
    return tiny_settings(
        **{**dict(max_steps=6, lr_scale=0.3, eval_every=3, log_every=1, seed=5), **overrides}
    )


def write(tmp_path, name="ckpt.pt", **kwargs):
    src_tok, tgt_tok = tokenizers()
    model = tiny_model(src_tok, tgt_tok)
    path = save_checkpoint(
        tmp_path / name, model, src_tokenizer=src_tok, tgt_tokenizer=tgt_tok, **kwargs
    )
    return path, model, src_tok, tgt_tok


# ----------------------------------------------------------------------------------------
# round trips
# ----------------------------------------------------------------------------------------


def test_round_trip_gives_the_same_model_and_tokenizers(tmp_path):
    path, model, src_tok, tgt_tok = write(
        tmp_path,
        metrics={"bleu": 12.5},
        metadata={"command": "course-lib train"},
        training={"step": 7},
    )
    loaded = load_checkpoint(path)
    assert isinstance(loaded, Checkpoint)
    assert not loaded.model.training
    assert loaded.config == model.config
    assert loaded.src_tokenizer.vocab == src_tok.vocab
    assert loaded.tgt_tokenizer.vocab == tgt_tok.vocab
    model.eval()
    src = torch.tensor([src_tok.encode("I love pizza")])
    tgt = torch.tensor([[1] + tgt_tok.encode("J'aime la pizza")])
    assert torch.equal(model(src, tgt), loaded.model(src, tgt))
    assert loaded.metadata["step"] == 7
    assert loaded.metadata["metrics"] == {"bleu": 12.5}
    assert loaded.metadata["command"] == "course-lib train"
    assert loaded.metadata["path"] == str(path)
    # a run directory works too
    save_checkpoint(tmp_path, model, src_tokenizer=src_tok, tgt_tokenizer=tgt_tok)
    assert (tmp_path / "checkpoint.pt").is_file()
    assert load_checkpoint(tmp_path).config == model.config


def test_checkpoint_holds_only_plain_data(tmp_path):
    src_tok, tgt_tok = tokenizers()
    model = tiny_model(src_tok, tgt_tok)
    optimizer = make_optimizer(model)
    path = save_checkpoint(
        tmp_path / "c.pt", model, src_tokenizer=src_tok, tgt_tokenizer=tgt_tok, optimizer=optimizer
    )
    state = torch.load(path, weights_only=True)  # would raise on any pickled object
    assert state["format"] == FORMAT and state["format_version"] == FORMAT_VERSION
    assert isinstance(state["config"], dict) and isinstance(state["src_tokenizer"], dict)


def test_float16_weights_halve_the_size_and_load_as_float32(tmp_path):
    full, model, src_tok, _ = write(tmp_path, "full.pt", save_rng=False)
    half, *_ = write(tmp_path, "half.pt", save_rng=False, weights_dtype=torch.float16)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    loaded = load_checkpoint(half)
    assert loaded.metadata["weights_dtype"] == "float16"
    assert all(p.dtype == torch.float32 for p in loaded.model.parameters())
    for a, b in zip(model.parameters(), loaded.model.parameters()):
        assert torch.allclose(a, b, atol=1e-3, rtol=1e-3)


# ----------------------------------------------------------------------------------------
# atomic writes
# ----------------------------------------------------------------------------------------


def test_a_failed_save_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path):
    path, model, src_tok, tgt_tok = write(tmp_path, "c.pt")
    before = path.read_bytes()
    with pytest.raises(CourseLibError, match="plain data"):
        save_checkpoint(
            path, model, src_tokenizer=src_tok, tgt_tokenizer=tgt_tok, metadata={"when": object()}
        )
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt"]


# ----------------------------------------------------------------------------------------
# errors
# ----------------------------------------------------------------------------------------


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CourseLibError, match="checkpoint not found: .*nope.pt"):
        load_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(CourseLibError, match="checkpoint not found"):
        resolve_checkpoint_path(tmp_path / "nope.pt")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "checkpoint.pt").write_bytes(b"x")
    assert resolve_checkpoint_path(tmp_path / "run") == tmp_path / "run" / "checkpoint.pt"
    with pytest.raises(CourseLibError, match="no checkpoint.pt in the directory"):
        load_checkpoint(tmp_path)
    with pytest.raises(CourseLibError, match="str or Path"):
        load_checkpoint(42)


def test_empty_truncated_and_corrupt_files(tmp_path):
    path, *_ = write(tmp_path, "good.pt")
    data = path.read_bytes()
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(CourseLibError, match="empty.pt is empty"):
        load_checkpoint(empty)
    for fraction in (0.2, 0.5, 0.9):
        truncated = tmp_path / f"truncated{fraction}.pt"
        truncated.write_bytes(data[: int(len(data) * fraction)])
        with pytest.raises(CourseLibError, match=f"truncated{fraction}.pt is corrupt or truncated"):
            load_checkpoint(truncated)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(CourseLibError, match="garbage.pt is corrupt or truncated"):
        load_checkpoint(garbage)
    flipped = bytearray(data)
    middle = len(flipped) // 2
    flipped[middle : middle + 64] = b"\xff" * 64
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(bytes(flipped))
    try:
        load_checkpoint(damaged)  # damaged tensor bytes may still load; must not crash oddly
    except CourseLibError as error:
        assert "damaged.pt" in str(error)


def test_foreign_and_unsafe_files(tmp_path):
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, foreign)
    with pytest.raises(CourseLibError, match="foreign.pt is not a course_lib checkpoint"):
        load_checkpoint(foreign)
    unsafe = tmp_path / "unsafe.pt"
    with open(unsafe, "wb") as handle:
        pickle.dump({"format": FORMAT, "evil": Checkpoint}, handle, protocol=2)  # a pickled class
    with pytest.raises(CourseLibError, match="unsafe.pt"):
        load_checkpoint(unsafe)
    unsafe2 = tmp_path / "unsafe2.pt"
    torch.save({"format": FORMAT, "obj": TrainSettings(max_steps=3)}, unsafe2)
    with pytest.raises(CourseLibError, match="refusing to unpickle"):
        load_checkpoint(unsafe2)


def _edit(path, tmp_path, name, change):
    state = torch.load(path, weights_only=True)
    change(state)
    out = tmp_path / name
    torch.save(state, out)
    return out


def test_newer_format_version(tmp_path):
    path, *_ = write(tmp_path)
    newer = _edit(path, tmp_path, "newer.pt", lambda s: s.update(format_version=FORMAT_VERSION + 1))
    with pytest.raises(CourseLibError, match="newer.pt has format version 2"):
        load_checkpoint(newer)


def test_mismatched_config_weights_and_vocabularies(tmp_path):
    path, *_ = write(tmp_path)
    wider = _edit(path, tmp_path, "wider.pt", lambda s: s["config"].update(d_ff=128))
    with pytest.raises(CourseLibError, match="wider.pt does not match its config: shape mismatch"):
        load_checkpoint(wider)
    deeper = _edit(path, tmp_path, "deeper.pt", lambda s: s["config"].update(n_encoder_layers=2))
    with pytest.raises(
        CourseLibError, match="deeper.pt does not match its config: missing weights"
    ):
        load_checkpoint(deeper)

    def vocab(state):
        state["tgt_tokenizer"]["vocab"]["tokens"].append("extra")

    bigger_vocab = _edit(path, tmp_path, "vocab.pt", vocab)
    with pytest.raises(CourseLibError, match="vocab.pt is inconsistent: the target tokenizer"):
        load_checkpoint(bigger_vocab)
    bad_config = _edit(path, tmp_path, "badconfig.pt", lambda s: s["config"].update(colour=1))
    with pytest.raises(CourseLibError, match="badconfig.pt has an invalid config"):
        load_checkpoint(bad_config)
    incomplete = _edit(path, tmp_path, "incomplete.pt", lambda s: s.pop("model"))
    with pytest.raises(CourseLibError, match="incomplete.pt is incomplete: missing model"):
        load_checkpoint(incomplete)


def test_save_bad_arguments(tmp_path):
    src_tok, tgt_tok = tokenizers()
    model = tiny_model(src_tok, tgt_tok)
    with pytest.raises(CourseLibError, match="course_lib Transformer"):
        save_checkpoint(
            tmp_path / "x.pt", torch.nn.Linear(2, 2), src_tokenizer=src_tok, tgt_tokenizer=tgt_tok
        )
    with pytest.raises(CourseLibError, match="src_tokenizer must be a tokenizer"):
        save_checkpoint(tmp_path / "x.pt", model, src_tokenizer="en", tgt_tokenizer=tgt_tok)
    with pytest.raises(CourseLibError, match="weights_dtype"):
        save_checkpoint(
            tmp_path / "x.pt",
            model,
            src_tokenizer=src_tok,
            tgt_tokenizer=tgt_tok,
            weights_dtype=torch.int8,
        )
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CourseLibError, match="cannot create the folder"):
        save_checkpoint(
            blocker / "sub" / "x.pt", model, src_tokenizer=src_tok, tgt_tokenizer=tgt_tok
        )


def test_translation_only_checkpoint_cannot_resume(tmp_path):
    path, model, *_ = write(tmp_path)
    loaded = load_checkpoint(path)
    with pytest.raises(CourseLibError, match="no optimizer/scheduler state"):
        restore_training_state(loaded, make_optimizer(loaded.model))


def test_resuming_keeps_this_machines_adam_kernel(tmp_path):
    """A checkpoint saved by a fused Adam resumes into an unfused one (an older torch, say)
    without taking the saver's kernel flag, and the other way round."""
    src_tok, tgt_tok = tokenizers()
    model = tiny_model(src_tok, tgt_tok)
    fused = torch.optim.Adam(model.parameters(), lr=1e-3)
    for group in fused.param_groups:
        group["fused"] = True  # as make_optimizer's fused kernel records itself
    path = save_checkpoint(
        tmp_path / "c.pt", model, src_tokenizer=src_tok, tgt_tokenizer=tgt_tok, optimizer=fused
    )
    plain = torch.optim.Adam(model.parameters(), lr=1e-3, foreach=False)
    restore_training_state(load_checkpoint(path), plain)
    assert all(not g["fused"] and g["foreach"] is False for g in plain.param_groups)


# ----------------------------------------------------------------------------------------
# resume: N steps + save + load + N steps == 2N steps
# ----------------------------------------------------------------------------------------


def test_resume_equals_uninterrupted_training_with_dropout(tmp_path):
    src_tok, tgt_tok = tokenizers()
    n = 6  # with batch 4 and 10 pairs (2 batches per epoch) this crosses epochs

    straight = Trainer(
        tiny_model(src_tok, tgt_tok, dropout=0.3),
        src_tok,
        tgt_tok,
        PAIRS,
        PAIRS[:3],
        settings(max_steps=2 * n),
    )
    history = straight.fit()

    first = Trainer(
        tiny_model(src_tok, tgt_tok, dropout=0.3),
        src_tok,
        tgt_tok,
        PAIRS,
        PAIRS[:3],
        settings(max_steps=n),
        out_dir=tmp_path,
    )
    first.fit()
    assert (tmp_path / "checkpoint.pt").is_file()
    torch.manual_seed(999)  # disturb every generator between the two halves
    random.seed(999)
    second = Trainer.resume(tmp_path, PAIRS, PAIRS[:3], settings(max_steps=2 * n))
    assert second.step == n
    resumed = second.fit()

    assert [r["loss"] for r in resumed.train] == [r["loss"] for r in history.train]
    for (name, a), b in zip(straight.model.named_parameters(), second.model.parameters()):
        assert torch.equal(a, b), name
    assert second.scheduler.get_last_lr() == straight.scheduler.get_last_lr()
    assert (second.batches.epoch, second.batches.index) == (
        straight.batches.epoch,
        straight.batches.index,
    )


def test_resume_in_the_same_trainer_state_round_trip(tmp_path):
    src_tok, tgt_tok = tokenizers()
    trainer = Trainer(
        tiny_model(src_tok, tgt_tok), src_tok, tgt_tok, PAIRS, None, settings(max_steps=3)
    )
    trainer.fit()
    path = trainer.save(tmp_path / "t.pt")
    loaded = load_checkpoint(path)
    assert loaded.training["step"] == 3
    assert loaded.training["settings"]["max_steps"] == 3
    assert loaded.optimizer is not None and loaded.scheduler is not None
    assert loaded.metadata["step"] == 3


# ----------------------------------------------------------------------------------------
# the bundled checkpoint (chapter 7 uses it)
# ----------------------------------------------------------------------------------------


def test_bundled_checkpoint_is_small_and_translates_i_hate_pizza():
    path = bundled_path()
    assert path.is_file(), "run the command in src/course_lib/assets/README.md"
    assert path.stat().st_size <= 3_000_000  # 3 MB, decimal (issue 8)
    bundled = load_bundled()
    assert not bundled.model.training
    assert bundled.metadata["command"].startswith("course-lib train --corpus toy")
    # the recorded command trains this model: the recipe has no dropout, the bundle has 0.1
    assert f"--dropout {bundled.config.dropout:g}" in bundled.metadata["command"]
    assert bundled.metadata["metrics"]["test"]["exact_match"] >= 0.99
    from course_lib.generate import greedy_decode

    src = torch.tensor([bundled.src_tokenizer.encode("I hate pizza")])
    ids = greedy_decode(bundled.model, src, max_new_tokens=12).tokens[0].tolist()
    assert bundled.tgt_tokenizer.decode(ids) == "Je déteste la pizza"


def test_bundled_checkpoint_scores_99_percent_on_held_out_pairs():
    from course_lib.data import make_toy_corpus
    from course_lib.evaluate import evaluate
    from course_lib.translate import Translator

    bundled = load_bundled()
    corpus = make_toy_corpus()
    translator = Translator(bundled.model, bundled.src_tokenizer, bundled.tgt_tokenizer)
    result = evaluate(translator, corpus.test)
    assert result.exact_match >= 0.99
