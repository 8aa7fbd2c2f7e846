"""The benchmark runner's pure parts: the generated performance page, the plots, the ablation
bookkeeping and the batching switch it relies on (the timings themselves are measured by
``python -m benchmarks``, never asserted here)."""

from __future__ import annotations

import pytest
import torch

from benchmarks import report
from benchmarks.bench_training import (
    ABLATION,
    RECIPE_ROW,
    AverageLast,
    CpuBudget,
    TorchBaseline,
    _examples,
    _first_sources,
    seconds_to_target,
)
from benchmarks.plots import write_plots
from course_lib.batching import bucketed_batches
from course_lib.config import TransformerConfig
from course_lib.evaluate import score
from course_lib.model import Transformer
from course_lib.recipes import RECIPE_MODEL_CHANGES, SMALL_MODEL, recipe
from course_lib.trainer import Trainer

RESULTS = {
    "machine": {"cpu_model": "Test CPU", "cpu_count": 2, "threads_used": 2},
    "train_step_ratio_vs_torch": 1.04,
    "inference_forward_ratio_vs_torch": 0.9,
    "kv_cache_speedup": 5.0,
    "translate_sentences_per_second_ratio_vs_torch": 7.25,
    "real_seconds_to_target_chrf": 280.5,
    "torch_real_seconds_to_target_chrf": None,
    "real_bleu_10min": 20.0,
    "torch_real_bleu_10min": 15.5,
    "details": {
        "decoding": {
            "translate_sentences_per_second": 250.0,
            "translate_beam_sentences_per_second": 60.0,
            "torch_translate_sentences_per_second": 34.5,
            "torch_batched_translate_sentences_per_second": 120.0,
            "translate_sentences_per_second_ratio_vs_torch": 7.25,
            "translate_ratio_vs_torch_batched": 2.08,
            "translate_same_as_torch_fraction": 0.995,
            "translate_test_bleu": 30.0,
            "translate_test_chrf": 50.0,
            "translate_beam_test_bleu": 31.0,
            "translate_beam_test_chrf": 51.0,
            "translate_setup": {"sentences": 1874, "batch_size": 64, "beam_size": 4},
        },
        "real": {
            "minutes": 10,
            "real_target_chrf": 50.0,
            "real_seconds_to_target_chrf": 280.5,
            "torch_real_seconds_to_target_chrf": None,
            "real_examples": [["Go.", "<unk> !", "Va !"], ["Who|what?", "", "Qui ?"]],
            "torch_real_examples": [["Go.", "Allez.", "Va !"], ["Who|what?", "Qui ?", "Qui ?"]],
            "real_curve": [{"step": 400, "train_seconds": 60.0, "bleu": 3.0, "chrf": 20.0}],
            "torch_real_curve": [{"step": 400, "train_seconds": 61.0, "bleu": 2.0, "chrf": 18.0}],
        },
        "ablation": {
            "ablation_minutes": 3,
            "ablation_bleu_gain_total": 3.0,
            "ablation": [
                {
                    "config": name,
                    "change": row.change,
                    "parameters": 1000,
                    "steps": 10,
                    "bleu": b,
                    "chrf": 10.0,
                    "test_sources": 500,
                    "bleu_gain": g,
                    "chrf_gain": None if g is None else 0.0,
                }
                for (name, row), b, g in zip(
                    ABLATION.items(), (1.0, 2.0, 3.5, 4.0), (None, 1.0, 1.5, 0.5)
                )
            ],
        },
    },
}


def resolved(results: dict) -> str:
    """The page as the book shows it: every substitution filled in from ``results``."""
    import re

    names = report.bench_numbers.substitutions(results)
    page = report.render(results)
    missing = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", page)) - set(names)
    assert not missing, f"the page uses substitutions the results do not define: {missing}"
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: names[m.group(1)], page)


def test_page_types_no_measured_number():
    """Figures are substitutions filled in at build time, not digits written by report.py."""
    page = report.render(RESULTS)
    assert "{{ bench_train_step_ratio_vs_torch }}" in page
    assert "1.04" not in page and "4.50" not in page


def test_page_marks_targets_met_and_missed():
    page = resolved(RESULTS)
    assert (
        "| training step, course_lib fast path / nn.Transformer (time ratio) | 1.04 "
        "| <= 3/4: **missed** |" in page
    )
    assert "| eval forward, course_lib / nn.Transformer (time ratio) | 0.90 | <= 1: met |" in page
    assert "| BLEU gain of the course recipe over nn.Transformer | +4.50 | >= +2: met |" in page
    assert "course / nn.Transformer's uncached one-at-a-time loop | 7.25 | >= 5: met |" in page
    assert "chrF target, course recipe | 280.50 | <= 300: met |" in page
    assert "Test CPU (2 cores)" in page


def test_page_has_the_ablation_table_and_escaped_examples():
    page = resolved(RESULTS)
    change = ABLATION["+ pre-norm"].change
    assert f"| + pre-norm | {change} | 1,000 | 10 | 3.50 | 10.00 | +1.50 | +0.00 |" in page
    assert "In all: +3.00 BLEU and" in page
    assert "largest single gain came from the row *+ pre-norm*" in page
    assert "| Who\\|what? | Qui ? | (empty) | Qui ? |" in page
    assert "| Go. | Va ! | &lt;unk&gt; ! | Allez. |" in page


def test_page_of_empty_results_says_not_measured():
    page = report.render({})
    assert "not measured" in page
    assert "{{" not in page
    assert "ablation" not in page.lower().split("## profiling")[0]


def test_plots_are_written(tmp_path):
    write_plots(RESULTS, tmp_path)
    assert {p.name for p in tmp_path.iterdir()} >= {
        "real_curve.png",
        "ablation.png",
        "translation.png",
    }


def test_page_has_the_translation_and_time_to_quality_sections():
    page = resolved(RESULTS)
    assert "| nn.Transformer, one at a time, no cache | 34.50 |" in page
    assert "| course, batched greedy with cache | 250.00 |" in page
    assert "99.5% of them agree exactly" in page
    assert "| training seconds to validation chrF 50.00 | **280.50** | not reached in 10" in page
    assert "| Tatoeba: the same, plain nn.Transformer | not reached in 10 minutes |  |" in page


def test_target_reached_reads_right_whether_or_not_the_target_was_reached():
    names = report.bench_numbers.substitutions(RESULTS)
    assert names["bench_real_target_reached"] == "reaches that chrF after 280.50 seconds"
    assert names["bench_torch_real_target_reached"] == (
        "does not reach that chrF in its 10 minutes"
    )
    assert "bench_real_target_reached" not in report.bench_numbers.substitutions({})


def _row_settings(row) -> dict:
    return {
        **{f"model.{k}": v for k, v in row.model.items()},
        **{f"training.{k}": v for k, v in (row.training or {}).items()},
        "pool_batches": row.pool_batches,
        "average_last": row.average_last,
    }


def test_ablation_goes_from_torch_defaults_to_the_course_recipe():
    rows = list(ABLATION.values())
    assert {**rows[0].model} == {"norm_first": False, "tie_embeddings": False, "dropout": 0.1}
    assert rows[0].pool_batches == 1
    recipe_row = ABLATION[RECIPE_ROW]
    real = recipe("small", "tatoeba")
    assert (
        {**real["model"], **recipe_row.model}
        == real["model"]
        == {
            **SMALL_MODEL,
            **RECIPE_MODEL_CHANGES,
        }
    )
    assert recipe_row.pool_batches == Trainer.pool_batches
    assert not recipe_row.training and not recipe_row.average_last
    # one change per row against the row it is compared with, and each says what it changes
    names = list(ABLATION)
    for above, name in zip(names, names[1:]):
        row = ABLATION[name]
        base = ABLATION[row.versus or above]
        sa, sb = _row_settings(base), _row_settings(row)
        changed = {k for k in {*sa, *sb} if sa.get(k) != sb.get(k)}
        assert len(changed) == 1, (name, changed)
        assert row.change


def test_pool_of_one_batch_is_unbucketed():
    lengths = [1, 30] * 64
    bucketed = bucketed_batches(lengths, lengths, 16, seed=0, epoch=0)
    plain = bucketed_batches(lengths, lengths, 16, seed=0, epoch=0, pool_batches=1)
    assert all(len({lengths[i] for i in b}) == 1 for b in bucketed)
    assert any(len({lengths[i] for i in b}) == 2 for b in plain)
    assert sorted(i for b in plain for i in b) == list(range(len(lengths)))


def test_examples_are_spread_from_short_to_long():
    sources = [" ".join(["w"] * n) + f" {n}" for n in range(1, 31)]
    refs = [[f"r{n}"] for n in range(1, 31)]
    result = score([f"h{n}" for n in range(1, 31)], refs, sources)
    picked = _examples(result, count=4)
    assert [len(e.split()) for e, _, _ in picked] == [2, 12, 21, 31]
    assert picked[0] == ("w 1", "h1", "r1")
    assert len(_examples(score(["a", "b", "c"], refs[:3], sources[:3]))) == 3


def test_seconds_to_target_is_the_first_point_at_or_above_it():
    curve = [
        {"step": 200, "train_seconds": 40.0, "chrf": 30.0},
        {"step": 400, "train_seconds": 80.0, "chrf": 50.0},
        {"step": 600, "train_seconds": 120.0, "chrf": 49.0},
    ]
    assert seconds_to_target(curve, 50.0) == 80.0
    assert seconds_to_target(curve, 50.1) is None
    assert seconds_to_target([], 50.0) is None


def test_torch_peer_from_course_computes_the_course_logits_and_translations():
    """The translation benchmark's peer: the same weights in nn.Transformer, uncached."""
    from tiny_training import PAIRS, tokenizers

    from course_lib.translate import translate

    src_tok, tgt_tok = tokenizers()
    torch.manual_seed(0)
    config = TransformerConfig.small(src_tok.vocab_size, tgt_tok.vocab_size, max_len=24)
    model = Transformer(config).eval()
    peer = TorchBaseline.from_course(model).eval()
    src = torch.tensor([[5, 6, 7, 0], [8, 9, 10, 11]])
    tgt = torch.tensor([[1, 5, 6], [1, 7, 0]])
    with torch.no_grad():
        torch.testing.assert_close(peer(src, tgt), model(src, tgt), atol=1e-4, rtol=1e-4)
    sentences = [english for english, _ in PAIRS[:6]]
    # random weights never say <end>: the length limit depends on the batch's longest source
    together = translate(model, sentences, src_tok, tgt_tok)
    assert peer.translate(sentences, src_tok, tgt_tok, batch_size=len(sentences)) == together
    one_by_one = [translate(model, sentence, src_tok, tgt_tok) for sentence in sentences]
    assert peer.translate(sentences, src_tok, tgt_tok, batch_size=1) == one_by_one


def test_torch_peer_rejects_an_uneven_course_model():
    config = TransformerConfig.small(20, 20, n_encoder_layers=2, n_decoder_layers=1)
    with pytest.raises(ValueError, match="as many decoder layers"):
        TorchBaseline.from_course(Transformer(config))


def test_average_last_loads_the_mean_of_the_snapshots():
    class FakeTrainer:
        model = torch.nn.Linear(2, 1)
        step = 0

    trainer, callback = FakeTrainer(), AverageLast(count=2, every=1)
    for step, value in enumerate((1.0, 2.0, 4.0), start=1):
        trainer.step = step
        torch.nn.init.constant_(trainer.model.weight, value)
        callback.on_step(trainer, 0.0)
    callback.on_end(trainer)
    assert torch.all(trainer.model.weight == 3.0)  # the last two: (2 + 4) / 2


def test_first_sources_keeps_every_reference_of_the_first_sentences():
    pairs = [("a", "1"), ("b", "2"), ("a", "3"), ("c", "4")]
    assert _first_sources(pairs, 2) == [("a", "1"), ("b", "2"), ("a", "3")]
    assert _first_sources(pairs, None) == pairs
    assert _first_sources([], 3) == []


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_bucketed_batches_rejects_bad_batch_sizes(bad):
    from course_lib.errors import CourseLibError

    with pytest.raises(CourseLibError):
        bucketed_batches([1, 2], [1, 2], bad, 0, 0)


@pytest.mark.parametrize("bad", [0, 2.0, None])
def test_bucketed_batches_rejects_bad_pool_sizes(bad):
    from course_lib.errors import CourseLibError

    with pytest.raises(CourseLibError, match="pool_batches"):
        bucketed_batches([1, 2], [1, 2], 1, 0, 0, pool_batches=bad)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors:UserWarning")
def test_speed_benchmark_runs_and_compares_like_with_like():
    """A one-repeat run of the speed benchmark: both models see the same batch, every key of
    the JSON is there, and the ratios are the quotients of the medians."""
    import torch

    from benchmarks import bench_speed
    from course_lib import fast
    from course_lib.runtime import resolve_precision

    ours, peer = bench_speed._models(dropout=0.0)
    src, tgt_in, _ = bench_speed.make_batch()
    assert ours(src, tgt_in).shape == peer(src, tgt_in).shape == (*tgt_in.shape, 2000)
    threads = torch.get_num_threads()
    try:
        result = bench_speed.run(repeats=1, threads=1, profile_steps=1)
    finally:
        torch.set_num_threads(threads)
    ratio = result["fast_train_step_ms"] / result["torch_train_step_ms"]  # the fast path's
    assert result["train_step_ratio_vs_torch"] == pytest.approx(ratio)
    eager = result["train_step_ms"] / result["torch_train_step_ms"]
    assert result["eager_train_step_ratio_vs_torch"] == pytest.approx(eager)
    assert result["fast_path"] == "cpu" and result["compile_seconds"] >= 0
    recipe = result["recipe_fast_train_step_ms"] / result["recipe_torch_train_step_ms"]
    assert result["recipe_train_step_ratio_vs_torch"] == pytest.approx(recipe)
    recipe_eager = result["recipe_train_step_ms"] / result["recipe_torch_train_step_ms"]
    assert result["recipe_eager_train_step_ratio_vs_torch"] == pytest.approx(recipe_eager)
    native_bf16 = resolve_precision("auto", torch.device("cpu")) is torch.bfloat16
    assert result["recipe_precision"] == ("bfloat16 autocast" if native_bf16 else "float32")
    if fast.math_attention_unavailable() == "":  # the recipes' path: math attention kernel
        assert result["recipe_fast_path"] == "cpu"
    assert result["inference_forward_ratio_vs_torch"] > 0
    shares = result["train_step_profile_percent"]
    assert set(shares) == {"course_lib", "course_lib fast", "nn.Transformer"}
    assert "aten::bernoulli_" not in shares["course_lib fast"]  # masks from random lanes
    assert all(0 < share <= 100 for ops in shares.values() for share in ops.values())


def test_depth_budget_counts_cpu_time_not_wall_time():
    """run_depth gives each configuration the same CPU time of training steps, so a busy
    machine (a slow wall clock) does not change how much each one trains."""
    from tiny_training import PAIRS, tiny_model, tiny_settings, tokenizers

    src_tok, tgt_tok = tokenizers()
    settings = tiny_settings(max_steps=10**6, max_minutes=None, eval_every=10**9)
    budget = CpuBudget(0.002)
    trainer = Trainer(
        tiny_model(src_tok, tgt_tok), src_tok, tgt_tok, PAIRS, None, settings, callbacks=[budget]
    )
    trainer.train_seconds = 10**6  # a wall clock far past any budget changes nothing
    trainer.fit()
    assert trainer.history.stopped == "max_minutes"
    assert budget.used >= 60 * 0.002 and trainer.step >= 1


def test_page_asks_for_a_second_look_at_a_rejected_row_that_gained():
    import copy

    results = copy.deepcopy(RESULTS)
    rows = results["details"]["ablation"]["ablation"]
    rows.append({**rows[-1], "config": "recipe + more", "change": "x -> y (rejected)"})
    assert "*recipe + more* gained in this short run" in resolved(results)
    rows[-1]["bleu_gain"] = -1.0
    assert "gained in this short run" not in resolved(results)
