"""Tests for course_lib.train: teacher forcing, the schedule, batching and the training loop
(the label-smoothed loss: tests/test_loss.py)."""

from __future__ import annotations

import pytest
import torch
from tiny_training import PAIRS as ALL_PAIRS
from tiny_training import tiny_model, tiny_settings
from tiny_training import tokenizers as fit_tokenizers

from course_lib.errors import CourseLibError, ShapeError
from course_lib.tokenize import WordTokenizer
from course_lib.train import (
    END,
    PAD,
    START,
    Trainer,
    TrainSettings,
    WarmupInverseSqrtSchedule,
    bucketed_batches,
    encode_pairs,
    evaluate,
    label_smoothed_cross_entropy,
    make_optimizer,
    noam_schedule,
    recipe,
    resolve_precision,
    select_device,
    teacher_forcing,
    train,
)

PAIRS = ALL_PAIRS[:8]
pytestmark = pytest.mark.usefixtures("one_thread")


def tokenizers(pairs=PAIRS):
    return fit_tokenizers(pairs)


# ----------------------------------------------------------------------------------------
# teacher forcing
# ----------------------------------------------------------------------------------------


def test_teacher_forcing_shifts_and_puts_end_after_each_row():
    tgt = torch.tensor([[5, 6, 7, 8], [9, 10, PAD, PAD], [11, PAD, PAD, PAD]])
    decoder_input, labels = teacher_forcing(tgt)
    assert decoder_input.tolist() == [
        [START, 5, 6, 7, 8],
        [START, 9, 10, PAD, PAD],
        [START, 11, PAD, PAD, PAD],
    ]
    assert labels.tolist() == [
        [5, 6, 7, 8, END],
        [9, 10, END, PAD, PAD],
        [11, END, PAD, PAD, PAD],
    ]
    # labels are the decoder input shifted left by one, wherever the input is real
    real = decoder_input[:, 1:] != PAD
    assert torch.equal(labels[:, :-1][real], decoder_input[:, 1:][real])


def test_teacher_forcing_on_a_real_batch_and_empty_row():
    _, tgt_tok = tokenizers()
    ids = tgt_tok.encode("J'aime la pizza")
    tgt = torch.tensor([ids, [PAD] * len(ids)])
    decoder_input, labels = teacher_forcing(tgt)
    assert tgt_tok.decode(labels[0].tolist()) == "J'aime la pizza"
    assert labels[0, len(ids)] == END
    assert labels[1].tolist() == [END] + [PAD] * len(ids)  # an empty target: just <end>
    assert decoder_input[1].tolist() == [START] + [PAD] * len(ids)


def test_teacher_forcing_custom_ids():
    decoder_input, labels = teacher_forcing(
        torch.tensor([[7, 8, -1]]), start_id=100, end_id=101, pad_id=-1
    )
    assert decoder_input.tolist() == [[100, 7, 8, -1]]
    assert labels.tolist() == [[7, 8, 101, -1]]


@pytest.mark.parametrize(
    "bad, message",
    [
        ([[1, 2]], "must be a tensor"),
        (torch.tensor([1, 2, 3]), "shape (batch, tgt_len)"),
        (torch.tensor([[1.0, 2.0]]), "integer token ids"),
        (torch.zeros(0, 3, dtype=torch.long), "empty batch"),
        (torch.tensor([[5, PAD, 6]]), "right-padded"),
    ],
)
def test_teacher_forcing_bad_input(bad, message):
    with pytest.raises(CourseLibError, match=message.replace("(", r"\(").replace(")", r"\)")):
        teacher_forcing(bad)


# The label-smoothed loss is tested in tests/test_loss.py.


# ----------------------------------------------------------------------------------------
# schedule and optimiser
# ----------------------------------------------------------------------------------------


def test_noam_schedule_values():
    d, warmup = 512, 4000
    assert noam_schedule(1, d, warmup) == pytest.approx(d**-0.5 * warmup**-1.5)
    peak = noam_schedule(warmup, d, warmup)
    assert peak == pytest.approx((d * warmup) ** -0.5)  # about 7.0e-4 for the paper
    assert peak == pytest.approx(6.99e-4, rel=1e-3)
    assert noam_schedule(warmup - 1, d, warmup) < peak > noam_schedule(warmup + 1, d, warmup)
    assert noam_schedule(4 * warmup, d, warmup) == pytest.approx(peak / 2)
    assert noam_schedule(100, d, warmup, scale=2.0) == pytest.approx(
        2 * noam_schedule(100, d, warmup)
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(step=0, d_model=128), "step must be an integer >= 1"),
        (dict(step=1.5, d_model=128), "step must be an integer"),
        (dict(step=1, d_model=0), "d_model"),
        (dict(step=1, d_model=128, warmup_steps=0), "warmup_steps"),
        (dict(step=1, d_model=128, scale=0), "scale must be a positive"),
    ],
)
def test_noam_schedule_bad_input(kwargs, message):
    with pytest.raises(CourseLibError, match=message):
        noam_schedule(**kwargs)


def test_scheduler_follows_the_formula_and_state_is_plain():
    model = torch.nn.Linear(3, 3)
    optimizer = torch.optim.Adam(model.parameters(), lr=123.0)
    scheduler = WarmupInverseSqrtSchedule(optimizer, d_model=64, warmup_steps=10, scale=0.5)
    seen = []
    for _ in range(30):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert seen == pytest.approx([noam_schedule(s, 64, 10, 0.5) for s in range(1, 31)])
    state = scheduler.state_dict()
    assert all(isinstance(v, (int, float, bool, list, str, type(None))) for v in state.values())
    with pytest.raises(CourseLibError, match="warmup_steps"):
        WarmupInverseSqrtSchedule(optimizer, d_model=64, warmup_steps=0)


def test_make_optimizer_uses_the_papers_adam():
    optimizer = make_optimizer(torch.nn.Linear(2, 2))
    group = optimizer.param_groups[0]
    assert group["betas"] == (0.9, 0.98) and group["eps"] == 1e-9
    with pytest.raises(CourseLibError, match="nn.Module"):
        make_optimizer("model")


def test_device_and_precision_selection():
    assert select_device("cpu") == torch.device("cpu")
    assert select_device("auto").type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(CourseLibError, match="CUDA is not available"):
            select_device("cuda")
    with pytest.raises(CourseLibError, match="device must be"):
        select_device("tpu")
    with pytest.raises(CourseLibError, match="device must be"):
        select_device(3)
    assert resolve_precision("auto", torch.device("cpu")) is None
    assert resolve_precision("bf16", torch.device("cpu")) is torch.bfloat16
    with pytest.raises(CourseLibError, match="fp16 needs a GPU"):
        resolve_precision("fp16", torch.device("cpu"))
    with pytest.raises(CourseLibError, match="precision must be"):
        resolve_precision("int8", torch.device("cpu"))


# ----------------------------------------------------------------------------------------
# data: encoding and bucketed batches
# ----------------------------------------------------------------------------------------


def test_bucketed_batches_are_seeded_complete_and_bucketed():
    lengths = [1 + (i * 7) % 13 for i in range(1000)]
    a = bucketed_batches(lengths, lengths, 32, seed=3, epoch=0)
    b = bucketed_batches(lengths, lengths, 32, seed=3, epoch=0)
    c = bucketed_batches(lengths, lengths, 32, seed=3, epoch=1)
    assert a == b and a != c
    flat = [i for batch in a for i in batch]
    assert len(flat) == len(set(flat)) == 992  # the last incomplete batch is dropped
    assert all(len(batch) == 32 for batch in a)
    # bucketing: far less spread of lengths inside a batch than in a random batch
    spread = sum(max(lengths[i] for i in bt) - min(lengths[i] for i in bt) for bt in a) / len(a)
    assert spread < 2


def test_bucketed_batches_small_data_and_bad_input():
    assert bucketed_batches([1, 2, 3], [1, 2, 3], 8, 0, 0) in ([[0, 1, 2]],)
    with pytest.raises(CourseLibError, match="batch_size"):
        bucketed_batches([1, 2], [1, 2], 0, 0, 0)
    with pytest.raises(CourseLibError, match="non-empty"):
        bucketed_batches([], [], 4, 0, 0)


def test_encode_pairs_and_bad_input():
    src_tok, tgt_tok = tokenizers()
    data = encode_pairs(PAIRS, src_tok, tgt_tok)
    assert len(data) == len(PAIRS)
    src, tgt = data.batch([0, 2])
    assert src.shape[0] == 2 and tgt[0].tolist()[:4] == tgt_tok.encode("J'aime la pizza")
    short = encode_pairs(PAIRS + [("I love pizza " * 20, "J'aime")], src_tok, tgt_tok, max_len=10)
    assert len(short) == len(PAIRS)  # too long for the model: left out
    with pytest.raises(CourseLibError, match="empty"):
        encode_pairs([], src_tok, tgt_tok)
    with pytest.raises(CourseLibError, match="pair"):
        encode_pairs([("only english",)], src_tok, tgt_tok)


# ----------------------------------------------------------------------------------------
# learning
# ----------------------------------------------------------------------------------------


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


def test_train_function_and_evaluate_groups_references():
    src_tok, tgt_tok = tokenizers()
    model = tiny_model(src_tok, tgt_tok)
    history = train(
        model,
        src_tok,
        tgt_tok,
        PAIRS,
        None,
        max_steps=3,
        batch_size=4,
        device="cpu",
        progress=False,
    )
    assert history.stopped == "max_steps" and not history.valid
    duplicated = PAIRS[:3] + [(PAIRS[0][0], "J'adore la pizza")]
    data = encode_pairs(duplicated, src_tok, WordTokenizer.fit([f for _, f in duplicated], "fr"))
    result = evaluate(
        tiny_model(src_tok, WordTokenizer.fit([f for _, f in duplicated], "fr")),
        data,
        WordTokenizer.fit([f for _, f in duplicated], "fr"),
    )
    assert result["n"] == 3  # "I love pizza" translated once, scored against 2 references
    assert 0 <= result["exact_match"] <= 1 and result["loss"] > 0
    with pytest.raises(CourseLibError, match="EncodedPairs"):
        evaluate(model, PAIRS, tgt_tok)


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


def test_recipe_presets():
    small = recipe("small", "toy")
    assert small["model"]["n_encoder_layers"] == 3 and small["training"]["max_steps"]
    assert recipe("base", "tatoeba")["model"]["d_model"] == 512
    with pytest.raises(CourseLibError, match="config must be"):
        recipe("huge", "toy")
    with pytest.raises(ShapeError):
        teacher_forcing(torch.tensor([1]))


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
    from course_lib.train import History

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
