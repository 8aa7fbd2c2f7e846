"""The benchmark runner's pure parts: the generated performance page, the plots, the ablation
bookkeeping and the batching switch it relies on (the timings themselves are measured by
``python -m benchmarks``, never asserted here)."""

from __future__ import annotations

import pytest

from benchmarks import report
from benchmarks.bench_training import ABLATION, _examples, _first_sources
from benchmarks.plots import write_plots
from course_lib.train import SMALL_MODEL, Trainer, bucketed_batches

RESULTS = {
    "machine": {"cpu_model": "Test CPU", "cpu_count": 2, "threads_used": 2},
    "train_step_ratio_vs_torch": 1.04,
    "inference_forward_ratio_vs_torch": 0.9,
    "kv_cache_speedup": 5.0,
    "real_bleu_10min": 20.0,
    "torch_real_bleu_10min": 15.5,
    "details": {
        "real": {
            "minutes": 10,
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
                    "parameters": 1000,
                    "steps": 10,
                    "bleu": b,
                    "chrf": 10.0,
                    "test_sources": 500,
                    "bleu_gain": g,
                }
                for name, b, g in zip(ABLATION, (1.0, 2.0, 3.5, 4.0), (None, 1.0, 1.5, 0.5))
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
        "| training step, course_lib / nn.Transformer (time ratio) | 1.04 | <= 1: **missed** |"
        in page
    )
    assert "| eval forward, course_lib / nn.Transformer (time ratio) | 0.90 | <= 1: met |" in page
    assert "| BLEU gain of the course recipe over nn.Transformer | +4.50 | >= +2: met |" in page
    assert "Test CPU (2 cores)" in page


def test_page_has_the_ablation_table_and_escaped_examples():
    page = resolved(RESULTS)
    assert "| + pre-norm | 1,000 | 10 | 3.50 | 10.00 | +1.50 |" in page
    assert "In all: +3.00 BLEU from the first row to the last" in page
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
    assert {p.name for p in tmp_path.iterdir()} >= {"real_curve.png", "ablation.png"}


def test_ablation_goes_from_torch_defaults_to_the_course_recipe():
    rows = list(ABLATION.values())
    first_fields, first_pool = rows[0]
    last_fields, last_pool = rows[-1]
    assert first_fields == {"norm_first": False, "tie_embeddings": False} and first_pool == 1
    assert {**SMALL_MODEL, **last_fields} == SMALL_MODEL and last_pool == Trainer.pool_batches
    # one change per row
    for (a, pa), (b, pb) in zip(rows, rows[1:]):
        changed = {k for k in {*a, *b} if a.get(k) != b.get(k)}
        assert len(changed) + (pa != pb) == 1


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
    picked = _examples(sources, [f"h{n}" for n in range(1, 31)], refs, count=4)
    assert [len(e.split()) for e, _, _ in picked] == [2, 12, 21, 31]
    assert picked[0] == ("w 1", "h1", "r1")
    assert len(_examples(sources[:3], ["a", "b", "c"], refs[:3])) == 3


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

    ours, peer = bench_speed._models(dropout=0.0)
    src, tgt_in, _ = bench_speed.make_batch()
    assert ours(src, tgt_in).shape == peer(src, tgt_in).shape == (*tgt_in.shape, 2000)
    threads = torch.get_num_threads()
    try:
        result = bench_speed.run(repeats=1, threads=1, profile_steps=1)
    finally:
        torch.set_num_threads(threads)
    ratio = result["train_step_ms"] / result["torch_train_step_ms"]
    assert result["train_step_ratio_vs_torch"] == pytest.approx(ratio)
    assert result["inference_forward_ratio_vs_torch"] > 0
    shares = result["train_step_profile_percent"]
    assert set(shares) == {"course_lib", "nn.Transformer"}
    assert all(0 < share <= 100 for ops in shares.values() for share in ops.values())


def test_depth_budget_counts_cpu_time_not_wall_time():
    """run_depth gives each configuration the same CPU time of training steps, so a busy
    machine (a slow wall clock) does not change how much each one trains."""
    from tiny_training import PAIRS, tiny_model, tiny_settings, tokenizers

    from benchmarks.bench_training import _CpuBudgetTrainer

    src_tok, tgt_tok = tokenizers()
    settings = tiny_settings(max_steps=None, max_minutes=0.002, eval_every=10**9)
    trainer = _CpuBudgetTrainer(
        tiny_model(src_tok, tgt_tok), src_tok, tgt_tok, PAIRS, None, settings
    )
    trainer.train_seconds = 10**6  # a wall clock far past the budget changes nothing
    assert trainer._budget_spent() == ""
    trainer.fit()
    assert trainer.history.stopped == "max_minutes"
    assert trainer.cpu_seconds >= 60 * 0.002 and trainer.step >= 1
