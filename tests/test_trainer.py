"""Tests for course_lib.trainer and course_lib.callbacks: settings, history, the loop and
its callbacks (validation, checkpoints, stopping)."""

from __future__ import annotations

import pytest
import torch
from tiny_training import PAIRS as ALL_PAIRS
from tiny_training import tiny_model, tiny_settings
from tiny_training import tokenizers as fit_tokenizers

from course_lib.batching import encode_pairs
from course_lib.callbacks import Callback, Checkpointing, Evaluation, LossLog, StopOnInterrupt
from course_lib.errors import CourseLibError
from course_lib.loss import label_smoothed_cross_entropy, teacher_forcing
from course_lib.trainer import History, Trainer, TrainSettings

PAIRS = ALL_PAIRS[:8]
pytestmark = pytest.mark.usefixtures("one_thread")


def tokenizers(pairs=PAIRS):
    return fit_tokenizers(pairs)


def test_a_few_steps_lower_the_loss_on_a_fixed_batch():
    src_tok, tgt_tok = tokenizers()
    model = tiny_model(src_tok, tgt_tok)
    data = encode_pairs(PAIRS, src_tok, tgt_tok)
    src, tgt = data.batch(range(len(PAIRS)))
    decoder_input, labels = teacher_forcing(tgt)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3, betas=(0.9, 0.98), eps=1e-9)
    losses = []
    for _ in range(25):
        loss = label_smoothed_cross_entropy(model(src, decoder_input), labels, 0.1)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("norm_first, tie", [(False, False), (True, True)])
def test_every_parameter_gets_a_gradient(norm_first, tie):
    src_tok, tgt_tok = tokenizers()
    model = tiny_model(src_tok, tgt_tok, dropout=0.1, norm_first=norm_first, tie_embeddings=tie)
    src, tgt = encode_pairs(PAIRS, src_tok, tgt_tok).batch(range(4))
    decoder_input, labels = teacher_forcing(tgt)
    label_smoothed_cross_entropy(model(src, decoder_input), labels).backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, name
        assert parameter.grad.abs().sum() > 0, f"{name} got a zero gradient"


def settings(**overrides):
    return tiny_settings(
        **{**dict(max_steps=12, lr_scale=1.0, eval_every=6, log_every=2, seed=0), **overrides}
    )


def test_trainer_is_deterministic_and_records_history():
    src_tok, tgt_tok = tokenizers()
    runs = []
    for _ in range(2):
        model = tiny_model(src_tok, tgt_tok, dropout=0.1)
        trainer = Trainer(model, src_tok, tgt_tok, PAIRS, PAIRS[:4], settings())
        history = trainer.fit()
        runs.append((history, [p.detach().clone() for p in model.parameters()]))
    (h1, w1), (h2, w2) = runs
    assert [r["loss"] for r in h1.train] == [r["loss"] for r in h2.train]
    assert all(torch.equal(a, b) for a, b in zip(w1, w2))
    assert [r["step"] for r in h1.train] == [2, 4, 6, 8, 10, 12]
    assert [r["step"] for r in h1.valid] == [6, 12]
    assert {"loss", "exact_match", "bleu", "chrf", "n"} <= set(h1.valid[-1])
    assert h1.stopped == "max_steps"
    assert h1.train[-1]["loss"] < h1.train[0]["loss"]


def test_trainer_time_budget_and_target():
    src_tok, tgt_tok = tokenizers()
    model = tiny_model(src_tok, tgt_tok)
    history = Trainer(
        model, src_tok, tgt_tok, PAIRS, None, settings(max_steps=None, max_minutes=0.02)
    ).fit()
    assert history.stopped == "max_minutes" and history.train
    model = tiny_model(src_tok, tgt_tok)
    trainer = Trainer(
        model,
        src_tok,
        tgt_tok,
        PAIRS,
        PAIRS,
        settings(
            max_steps=400, eval_every=10, target_exact_match=0.5, lr_scale=0.1, warmup_steps=10
        ),
    )
    history = trainer.fit()
    assert history.stopped == "target_exact_match"
    assert history.valid[-1]["exact_match"] >= 0.5 and trainer.step < 400


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(max_steps=None, max_minutes=None), "budget"),
        (dict(batch_size=0), "batch_size"),
        (dict(max_steps=-1), "max_steps"),
        (dict(max_minutes=-2.0), "max_minutes"),
        (dict(lr_scale=0), "lr_scale"),
        (dict(label_smoothing=2.0), "label_smoothing"),
        (dict(clip_norm=0.0), "clip_norm"),
        (dict(target_exact_match=1.5), "target_exact_match"),
        (dict(seed="x"), "seed"),
    ],
)
def test_train_settings_bad_values(overrides, message):
    with pytest.raises(CourseLibError, match=message):
        settings(**overrides)


def test_settings_round_trip_and_unknown_keys():
    s = settings()
    assert TrainSettings.from_dict(s.to_dict()) == s
    with pytest.raises(CourseLibError, match="unknown training settings: colour"):
        TrainSettings.from_dict({"max_steps": 3, "colour": "red"})


def test_trainer_bad_arguments():
    src_tok, tgt_tok = tokenizers()
    with pytest.raises(CourseLibError, match="course_lib Transformer"):
        Trainer(torch.nn.Linear(2, 2), src_tok, tgt_tok, PAIRS)
    with pytest.raises(CourseLibError, match="train_pairs is empty"):
        Trainer(tiny_model(src_tok, tgt_tok), src_tok, tgt_tok, [], None, settings())
    with pytest.raises(CourseLibError, match="settings must be TrainSettings"):
        Trainer(tiny_model(src_tok, tgt_tok), src_tok, tgt_tok, PAIRS, None, {"max_steps": 3})


def test_history_plot_and_round_trip():
    import matplotlib

    matplotlib.use("Agg")
    src_tok, tgt_tok = tokenizers()
    history = Trainer(
        tiny_model(src_tok, tgt_tok),
        src_tok,
        tgt_tok,
        PAIRS,
        PAIRS[:2],
        settings(max_steps=4, eval_every=2),
    ).fit()
    ax = history.plot()
    assert ax.get_xlabel() == "step" and len(ax.lines) == 2
    assert History.from_dict(history.to_dict()) == history


def test_trainer_writes_a_checkpoint_at_each_validation(tmp_path):
    src_tok, tgt_tok = tokenizers()
    trainer = Trainer(
        tiny_model(src_tok, tgt_tok),
        src_tok,
        tgt_tok,
        PAIRS,
        PAIRS[:2],
        settings(max_steps=5, eval_every=2),
        out_dir=tmp_path,
    )
    saved = []
    original = trainer.save
    trainer.save = lambda path=None: saved.append(trainer.step) or original(path)
    trainer.fit()
    assert saved == [2, 4, 5]  # after each validation, then at the end
    assert (tmp_path / "checkpoint.pt").is_file()


# ----------------------------------------------------------------------------------------
# callbacks
# ----------------------------------------------------------------------------------------


class Recorder(Callback):
    def __init__(self, stop_at=None):
        self.events = []
        self.stop_at = stop_at

    def on_start(self, trainer):
        self.events.append(("start", trainer.step))

    def on_step(self, trainer, loss):
        assert loss > 0
        self.events.append(("step", trainer.step))
        if trainer.step == self.stop_at:
            trainer.stop("enough")

    def on_log(self, trainer, record):
        self.events.append(("log", record["step"]))

    def on_eval(self, trainer, record):
        record["extra"] = 1  # a callback may extend the record
        self.events.append(("eval", record["step"]))

    def on_end(self, trainer):
        self.events.append(("end", trainer.stop_reason))


def test_callbacks_are_called_in_order_and_can_stop_the_run():
    src_tok, tgt_tok = tokenizers()
    recorder = Recorder(stop_at=3)
    trainer = Trainer(
        tiny_model(src_tok, tgt_tok),
        src_tok,
        tgt_tok,
        PAIRS,
        PAIRS[:2],
        settings(max_steps=10, eval_every=2, log_every=2),
        callbacks=[recorder],
    )
    history = trainer.fit()
    assert history.stopped == "enough" and trainer.step == 3
    assert recorder.events == [
        ("start", 0),
        ("step", 1),
        ("log", 2),
        ("eval", 2),
        ("step", 2),
        ("step", 3),
        ("eval", 3),  # the final validation of a run that stopped for another reason
        ("end", "enough"),
    ]
    assert [r["step"] for r in history.valid] == [2, 3] and history.valid[0]["extra"] == 1
    kinds = [type(c) for c in trainer.callbacks]
    assert kinds == [LossLog, Evaluation, StopOnInterrupt, Recorder]


def test_an_exception_ends_the_run_as_error_without_a_checkpoint(tmp_path):
    class Boom(Callback):
        def on_step(self, trainer, loss):
            raise RuntimeError("boom")

    src_tok, tgt_tok = tokenizers()
    trainer = Trainer(
        tiny_model(src_tok, tgt_tok),
        src_tok,
        tgt_tok,
        PAIRS,
        PAIRS[:2],
        settings(),
        out_dir=tmp_path,
        callbacks=[Boom()],
    )
    with pytest.raises(RuntimeError, match="boom"):
        trainer.fit()
    assert trainer.history.stopped == "error" and not trainer.history.valid
    assert not (tmp_path / "checkpoint.pt").exists()


def test_checkpoint_every_n_steps_and_the_interrupt_flag(tmp_path):
    src_tok, tgt_tok = tokenizers()
    trainer = Trainer(
        tiny_model(src_tok, tgt_tok),
        src_tok,
        tgt_tok,
        PAIRS,
        None,
        settings(max_steps=7, checkpoint_every=3),
        out_dir=tmp_path,
    )
    assert any(isinstance(c, Checkpointing) for c in trainer.callbacks)
    saved = []
    original = trainer.save
    trainer.save = lambda path=None: saved.append(trainer.step) or original(path)
    interrupt = next(c for c in trainer.callbacks if isinstance(c, StopOnInterrupt))

    class PressCtrlC(Callback):
        def on_step(self, trainer, loss):
            if trainer.step == 5:
                interrupt.requested = True  # what the first Ctrl-C does

    trainer.callbacks.insert(0, PressCtrlC())
    history = trainer.fit()
    assert history.stopped == "interrupted" and trainer.step == 5
    assert saved == [3, 5]  # every 3 steps, then once when interrupted


def test_evaluation_scores_with_the_one_evaluation_path():
    from course_lib.evaluate import evaluate
    from course_lib.translate import Translator

    src_tok, tgt_tok = tokenizers()
    model = tiny_model(src_tok, tgt_tok)
    trainer = Trainer(model, src_tok, tgt_tok, PAIRS, PAIRS[:5], settings(max_steps=2))
    evaluation = next(c for c in trainer.callbacks if isinstance(c, Evaluation))
    evaluation.max_sentences = 3
    record = evaluation.validate(trainer)
    expected = evaluate(Translator(model, src_tok, tgt_tok), PAIRS[:3]).to_dict()
    assert {k: record[k] for k in expected} == expected
    assert record["n"] == 3 and record["loss"] > 0 and trainer.history.valid == [record]


def test_progress_bar_and_live_plot_callbacks(monkeypatch, capsys):
    import matplotlib

    from course_lib import callbacks

    matplotlib.use("Agg")
    monkeypatch.setattr(callbacks, "in_notebook", lambda: True)  # as if in Jupyter
    src_tok, tgt_tok = tokenizers()
    trainer = Trainer(
        tiny_model(src_tok, tgt_tok),
        src_tok,
        tgt_tok,
        PAIRS,
        PAIRS[:2],
        settings(max_steps=4, eval_every=2, progress=True, live_plot=True),
    )
    kinds = [type(c) for c in trainer.callbacks]
    assert callbacks.ProgressBar in kinds and callbacks.LivePlot in kinds
    trainer.fit()
    live = next(c for c in trainer.callbacks if isinstance(c, callbacks.LivePlot))
    lines = live.plot.ax.get_lines()
    assert [line.get_label() for line in lines] == ["training loss", "validation loss"]
    assert list(lines[1].get_xdata()) == [2, 4]
    bar = next(c for c in trainer.callbacks if isinstance(c, callbacks.ProgressBar))
    assert bar.bar.n == 4 and "training" in capsys.readouterr().err
