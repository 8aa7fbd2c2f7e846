"""Writes the book's performance page (``book/performance.md``) from the benchmark results.

The page is generated, never edited by hand. It types no measured number at all: every
figure is a MyST substitution such as ``{{ bench_real_bleu_10min }}``, which the book's
extension ``book/_ext/bench_numbers.py`` fills in from ``benchmarks/results/latest.json`` at
build time (the same names the chapters, the instructor's guide and the other pages use).
What this module decides from the results is only the page's shape: which sections exist,
whether a target was met, which ablation row gained most. Run ``python -m benchmarks`` (or
``make bench``) to measure again, or ``python -m benchmarks.report`` to regenerate the page
from the results file as it is; then rebuild the book.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "latest.json"
PAGE = ROOT / "book" / "performance.md"

TARGETS = {
    "train_step_ratio_vs_torch": ("<=", 0.75),
    "inference_forward_ratio_vs_torch": ("<=", 1.0),
    "kv_cache_speedup": (">=", 3.0),
    "translate_sentences_per_second_ratio_vs_torch": (">=", 5.0),
    "real_seconds_to_target_chrf": ("<=", 300.0),
    "toy_seconds_to_99pct": ("<=", 10.0),
}
# The course recipe must beat the plain nn.Transformer on Tatoeba by at least this much BLEU.
BLEU_GAIN_TARGET = 2.0


def _bench_numbers():
    """``book/_ext/bench_numbers.py``, the one place that names and formats benchmark figures."""
    path = ROOT / "book" / "_ext" / "bench_numbers.py"
    spec = importlib.util.spec_from_file_location("course_bench_numbers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench_numbers = _bench_numbers()


class _Figures:
    """``figures["real_bleu_10min"]`` is the substitution ``{{ bench_real_bleu_10min }}`` when
    the results have that value, else "not measured"."""

    def __init__(self, results: dict):
        self.names = bench_numbers.substitutions(results)

    def __contains__(self, name: str) -> bool:
        return bench_numbers.PREFIX + name in self.names

    def __getitem__(self, name: str) -> str:
        if name not in self:
            return "not measured"
        return "{{ " + bench_numbers.PREFIX + name + " }}"


def _setting(value) -> str:
    """A setting recorded in the results (a training budget, not a measurement), as text."""
    return f"{value:g}" if isinstance(value, (int, float)) else "?"


def _cell(text: str) -> str:
    """Text for a Markdown table cell: ``|`` escaped, and ``<``/``>`` as entities so that a
    token like ``<unk>`` is shown instead of being passed through as an HTML tag."""
    text = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("|", "\\|") or "(empty)"


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _met(key: str, value) -> str:
    if key not in TARGETS or not isinstance(value, (int, float)):
        return ""
    op, target = TARGETS[key]
    # A target is a setting, not a measurement: written as a fraction (0.75 -> 3/4) so that the
    # page holds no typed decimal (tests/test_prose_numbers.py).
    shown = Fraction(target).limit_denominator(100)
    return f"{op} {shown}: {_verdict(value <= target if op == '<=' else value >= target)}"


def _headline(results: dict, f: _Figures) -> list[str]:
    get = results.get
    grading = results.get("details", {}).get("grading", {})
    per_class = (
        f"({f['grading_submissions']} submissions, --jobs {f['grading_jobs']})" if grading else ""
    )
    rows = [
        (
            "training step, course_lib fast path / nn.Transformer (time ratio)",
            "train_step_ratio_vs_torch",
        ),
        (
            "eval forward, course_lib / nn.Transformer (time ratio)",
            "inference_forward_ratio_vs_torch",
        ),
        ("greedy decoding, uncached / cached time", "kv_cache_speedup"),
        (
            "translating the Tatoeba test split, sentences per second",
            "translate_sentences_per_second",
        ),
        (
            "the same, course / nn.Transformer's uncached one-at-a-time loop",
            "translate_sentences_per_second_ratio_vs_torch",
        ),
        ("bundled corpus: training seconds to the exact-match target", "toy_seconds_to_99pct"),
        (
            "Tatoeba: training seconds to the validation chrF target, course recipe",
            "real_seconds_to_target_chrf",
        ),
        (
            "Tatoeba: the same, plain nn.Transformer",
            "torch_real_seconds_to_target_chrf",
        ),
        ("Tatoeba test BLEU, course recipe", "real_bleu_10min"),
        ("Tatoeba test BLEU, plain nn.Transformer", "torch_real_bleu_10min"),
        ("Tatoeba test chrF, course recipe", "real_chrf_10min"),
        ("Tatoeba test chrF, plain nn.Transformer", "torch_real_chrf_10min"),
        (f"grading: seconds per submission {per_class}".rstrip(), "grade_seconds_per_submission"),
        ("executing all seven chapters (seconds)", "notebooks_seconds"),
        ("building the website, all chapters executed (seconds)", "book_build_seconds"),
        ("translator page in Chromium: Translate to full translation (ms)", "browser_translate_ms"),
        ("translator page: everything it downloads (MB)", "browser_download_mb"),
    ]
    real = results.get("details", {}).get("real", {})
    lines = ["| measurement | value | target |", "|---|---|---|"]
    for label, key in rows:
        value = f[key]
        if key.endswith("seconds_to_target_chrf") and real:  # None: not reached in the run
            value = _reached(real, key, f, bold=False)
        lines.append(f"| {label} | {value} | {_met(key, get(key))} |")
    ours, theirs = get("real_bleu_10min"), get("torch_real_bleu_10min")
    if isinstance(ours, (int, float)) and isinstance(theirs, (int, float)):
        lines.append(
            f"| BLEU gain of the course recipe over nn.Transformer | "
            f"{f['real_bleu_gain_vs_torch_signed']} | >= +{BLEU_GAIN_TARGET:g}: "
            f"{_verdict(ours - theirs >= BLEU_GAIN_TARGET)} |"
        )
    return lines


def _speed(speed: dict, f: _Figures) -> list[str]:
    lines = [
        "## Speed against `torch.nn.Transformer`",
        "",
        f"Configuration: {f['speed_config']}. A training step is forward, backward and an",
        "Adam step (the course's `make_optimizer`, which takes PyTorch's fused Adam kernel where",
        "torch has one, for every model alike); the eval forward runs under `torch.no_grad()`,",
        "where PyTorch's encoder",
        "may take its fused fast path. Times are milliseconds, the median of interleaved",
        "repeats; a ratio is course_lib's time divided by nn.Transformer's. The chapters'",
        "eager model and the fast training path that the trainer uses (`course_lib.fast`:",
        "the same model with dropout masks drawn from 16-bit random lanes and PyTorch's math",
        f"attention kernel for sentences of up to {f['speed_math_attention_max_len']} tokens on",
        "the CPU, `torch.compile` on CUDA) are measured in the same interleaved loop: first",
        "with the paper's dropout in float32, then as the recipes train, without dropout and",
        "in the recipes' precision (`--precision auto`: bfloat16 autocast where the CPU has",
        "bfloat16 instructions), nn.Transformer alike.",
        "",
        "| | course_lib eager | course_lib fast path | nn.Transformer | ratio, fast (eager) |",
        "|---|---|---|---|---|",
        f"| training step (ms) | {f['speed_train_step_ms']} | {f['speed_fast_train_step_ms']} "
        f"| {f['speed_torch_train_step_ms']} | {f['speed_train_step_ratio_vs_torch']} "
        f"({f['speed_eager_train_step_ratio_vs_torch']}) |",
        f"| training step as the recipes train: no dropout, "
        f"{f['speed_recipe_precision']} (ms) | {f['speed_recipe_train_step_ms']} | "
        f"{f['speed_recipe_fast_train_step_ms']} | {f['speed_recipe_torch_train_step_ms']} | "
        f"{f['speed_recipe_train_step_ratio_vs_torch']} "
        f"({f['speed_recipe_eager_train_step_ratio_vs_torch']}) |",
        f"| eval forward (ms) | {f['speed_inference_forward_ms']} | (eager) | "
        f"{f['speed_torch_inference_forward_ms']} | {f['speed_inference_forward_ratio_vs_torch']} |",
        "",
        f"The fast path here: {f['speed_fast_path']} ({f['speed_fast_path_reason']}). Its first",
        f"step cost {f['speed_compile_seconds']} s more than an eager step (compiling, where the",
        "path compiles, with an empty compiler cache). On this CPU `torch.compile` made the step",
        "slower than eager, with or without dropout, and compiled for minutes, so the CPU path",
        "does not compile. Load average of the machine (1 minute) before and after the",
        f"measurement: {f['speed_load_average_before']} and {f['speed_load_average_after']}.",
        "",
        "![Bar chart of milliseconds per training step and per eval forward pass, course_lib "
        "next to nn.Transformer](images/performance/speed.png)",
        "",
    ]
    profiles = speed.get("train_step_profile_percent")
    if profiles:
        lines += [
            "Where a training step's CPU time goes (`torch.profiler`, self time, 5 steps;",
            "percent of the step):",
            "",
            "| operator | " + " | ".join(profiles) + " |",
            "|---|" + "---|" * len(profiles),
        ]
        names = sorted(
            {op for shares in profiles.values() for op in shares},
            key=lambda op: -max(shares.get(op, 0.0) for shares in profiles.values()),
        )
        for op in names:
            cells = " | ".join(
                f[f"speed_train_step_profile_percent_{bench_numbers._name([model, op])}"]
                if op in shares
                else "(not in top 6)"
                for model, shares in profiles.items()
            )
            lines.append(f"| `{op}` | {cells} |")
        lines.append("")
    return lines


def _decoding(decoding: dict, f: _Figures) -> list[str]:
    lines = [
        "## Decoding with and without the key/value cache (chapter 5)",
        "",
        f"Greedy decoding of {f['decoding_setup_sentences']} sentences for "
        f"{f['decoding_setup_new_tokens']} new tokens, {f['decoding_setup_model']}, "
        f"{f['decoding_setup_threads']} threads: uncached {f['decoding_uncached_seconds']} s,",
        f"cached {f['decoding_cached_seconds']} s, speed-up "
        f"**{f['decoding_kv_cache_speedup']}×**; identical tokens: "
        f"{f['decoding_identical_outputs']}. The gap grows with the output length, because",
        "the uncached decoder re-runs the whole prefix at every step:",
        "",
        "![Line chart of decoding seconds against the number of new tokens, with and without "
        "the key/value cache; the uncached line rises faster](images/performance/decoding.png)",
        "",
    ]
    if "translate_sentences_per_second" in decoding:
        lines += _translation(f)
    return lines


def _translation(f: _Figures) -> list[str]:
    return [
        "## Translating many sentences (chapter 7)",
        "",
        f"Every source sentence of the Tatoeba test split ({f['decoding_translate_setup_sentences']}",
        "sentences; strings in, strings out: tokenising, decoding and detokenising counted) with",
        "a model of the real recipe (trained once and cached by the benchmark,",
        f"{f['decoding_translate_setup_model_steps']} steps), {f['decoding_translate_setup_threads']}"
        " thread(s): one sentence's matrices are too small for a second thread to help, and on",
        "a shared machine a second thread slowed the one-at-a-time loop down many times. The course",
        "(`course_lib.translate.translate`) sorts the sentences by length and decodes batches of",
        f"{f['decoding_translate_setup_batch_size']} with the key/value cache. The peer is the",
        "same weights in `nn.Transformer` decoded by the greedy loop of PyTorch's translation",
        "tutorial: one sentence at a time, the encoder once, the decoder re-run over the whole",
        "prefix at every step; it is also timed on the course's batches (still without a cache),",
        "so the ratio can be read both ways. With the same weights the translations are the",
        f"same: {f['decoding_translate_same_as_torch_fraction_pct']} of them agree exactly "
        "(the rest differ by float rounding).",
        "",
        "| decoder | sentences per second |",
        "|---|---|",
        f"| course, batched greedy with cache | {f['decoding_translate_sentences_per_second']} |",
        f"| course, batched beam search (beam {f['decoding_translate_setup_beam_size']}) | "
        f"{f['decoding_translate_beam_sentences_per_second']} |",
        f"| nn.Transformer, one at a time, no cache | "
        f"{f['decoding_torch_translate_sentences_per_second']} |",
        f"| nn.Transformer, batched, no cache | "
        f"{f['decoding_torch_batched_translate_sentences_per_second']} |",
        "",
        f"Course greedy against the one-at-a-time loop: "
        f"**{f['decoding_translate_sentences_per_second_ratio_vs_torch']}×**; against the "
        f"batched uncached loop: {f['decoding_translate_ratio_vs_torch_batched']}×. Beam search",
        f"scores test BLEU {f['decoding_translate_beam_test_bleu']} (chrF "
        f"{f['decoding_translate_beam_test_chrf']}) against greedy's "
        f"{f['decoding_translate_test_bleu']} (chrF {f['decoding_translate_test_chrf']}).",
        "",
    ]


def _toy_dropout(f: _Figures) -> list[str]:
    """The same recipe with the paper's dropout, which the recipe leaves out."""
    if "toy_with_dropout_steps_to_99pct" not in f:
        return []
    return [
        "The recipe trains without dropout (`course_lib.recipes.RECIPE_MODEL_CHANGES`). The",
        f"same run with the paper's dropout {f['toy_with_dropout']} took",
        f"{f['toy_with_dropout_steps_to_99pct']} steps and "
        f"{f['toy_with_dropout_seconds_to_99pct']} s to the same target",
        f"({f['toy_with_dropout_seconds_per_step']} s per step against "
        f"{f['toy_seconds_per_step']} s), and reached",
        f"{f['toy_with_dropout_generalisation_exact_match_pct']} on the never-seen construction.",
        "",
    ]


def _toy(toy: dict, f: _Figures) -> list[str]:
    return [
        "## Training on the bundled corpus (chapter 6)",
        "",
        f"Chapter 6's recipe ({f['toy_parameters']} parameters; pre-norm 3+3 layers,",
        "d_model 128, tied target embedding, no dropout, batches bucketed by length, warm-up then",
        "inverse square root) reached the benchmark's target, 99 in 100 held-out test pairs",
        f"translated exactly, after **{f['toy_seconds_to_99pct']} s** "
        f"({f['toy_steps_to_99pct']} steps)",
        f"of training with {f['toy_torch_threads']} threads in the recipes' precision "
        f"({f['speed_recipe_precision']}), validated every {f['toy_settings_eval_every']} steps.",
        f"It trained the {f['toy_fast_path']} forward ({f['toy_fast_path_reason']}); the",
        f"machine's load average was {f['toy_load_average_before']} before and",
        f"{f['toy_load_average_after']} after the run. On the never-seen construction",
        f'(negated "drink") the same model reaches {f["toy_generalisation_exact_match_pct"]}',
        "exact match: memorised patterns end where the data ends (chapters 6 and 7 discuss it).",
        "",
        *_toy_dropout(f),
        "![Line chart of held-out exact match in percent against training seconds on the "
        "bundled corpus](images/performance/toy_curve.png)",
        "",
    ]


def _real(real: dict, f: _Figures) -> list[str]:
    lines = [
        "## Real data: Tatoeba English→French",
        "",
        f"Both models trained for {_setting(real.get('minutes'))} minutes on the same grouped "
        "split of",
        f"`tatoeba-eng-fra-large.tsv` ({f['real_train_pairs']} training pairs, "
        f"{f['real_test_sources']} test sources, all references kept),",
        f"{f['real_parallel']}; greedy decoding; sacrebleu "
        f"`{real.get('sacrebleu_signature', '')}`.",
        "",
        "| | course recipe | plain nn.Transformer |",
        "|---|---|---|",
        *(
            [
                f"| training seconds to validation chrF {f['real_target_chrf']} | "
                f"{_reached(real, 'real_seconds_to_target_chrf', f)} | "
                f"{_reached(real, 'torch_real_seconds_to_target_chrf', f)} |"
            ]
            if "real_target_chrf" in real
            else []
        ),
        f"| training steps | {f['real_steps']} | {f['real_torch_real_steps']} |",
        f"| seconds per step | {f['real_seconds_per_step']} | "
        f"{f['real_torch_real_seconds_per_step']} |",
        f"| parameters | {f['real_parameters']} | {f['real_torch_real_parameters']} |",
        f"| test BLEU | {f['real_bleu_10min']} | {f['real_torch_real_bleu_10min']} |",
        f"| test chrF | {f['real_chrf_10min']} | {f['real_torch_real_chrf_10min']} |",
        f"| exact match | {f['real_exact_match_pct']} | {f['real_torch_real_exact_match_pct']} |",
        "",
    ]
    if "real_bleu_gain_vs_torch" in f:
        lines += [
            f"In the same time the course recipe scores {f['real_bleu_gain_vs_torch']} BLEU and",
            f"{f['real_chrf_gain_vs_torch']} chrF more than the plain baseline.",
            "",
        ]
    lines += [
        "The baseline is plain: word-level tokens, post-norm 3+3 layers, d_model 128, Adam",
        f"with warm-up, label smoothing {f['real_settings_label_smoothing']}, dropout "
        f"{f['real_config_dropout']} as the course's model, a separate output",
        "layer and random batches. The course recipe differs by length-bucketed batches (less",
        "compute spent on padding, so more steps in the same time), pre-norm layers and an",
        "output layer tied to the French embedding (fewer parameters to learn from little",
        "data). The ablation below measures each change on its own. Both models were also",
        f"scored every {f['real_curve_every']} steps on {f['real_curve_sources']} validation",
        "sources by the course's one evaluation path (`course_lib.evaluate`; evaluation time not",
        "counted as training). The headline is time to quality: the training seconds until",
        f"that validation chrF first reached {f['real_target_chrf']} (an upper bound: it",
        "may have been crossed up to one scoring interval earlier).",
        "",
        "![Two line charts of validation BLEU and chrF against training minutes, the course "
        "recipe and nn.Transformer side by side, with the chrF target as a dashed "
        "line](images/performance/real_curve.png)",
        "",
        "![Bar chart of test BLEU and chrF on Tatoeba, the course recipe next to "
        "nn.Transformer](images/performance/real.png)",
        "",
    ]
    ours, theirs = real.get("real_examples", []), real.get("torch_real_examples", [])
    if ours and len(ours) == len(theirs) and all(len(row) == 3 for row in ours):
        lines += [
            "Test sentences from short to long (evenly spaced in the test set sorted by length),",
            "a reference, and both models' translations; `<unk>` is a French word outside the",
            "vocabulary (seen fewer than twice in training), which word-level tokens cannot spell:",
            "",
            "| English | a reference | course recipe | nn.Transformer |",
            "|---|---|---|---|",
            *(
                f"| {_cell(e)} | {_cell(ref)} | {_cell(h)} | {_cell(t[1])} |"
                for (e, h, ref), t in zip(ours, theirs)
            ),
            "",
        ]
    return lines


def _reached(real: dict, key: str, f: _Figures, bold: bool = True) -> str:
    """The seconds to the target (in bold), or that it was not reached within the run's
    budget."""
    if key not in real:
        return "not measured"
    if real[key] is None:
        return f"not reached in {_setting(real.get('minutes'))} minutes"
    name = key if key.startswith("real_") else "real_" + key  # details.real.torch_real_...
    return f"**{f[name]}**" if bold else f[name]


def _ablation(ablation: dict, f: _Figures) -> list[str]:
    rows = ablation["ablation"]
    lines = [
        "## Which part of the recipe helped (ablation)",
        "",
        "From `nn.Transformer`'s defaults to the course's recipe, one change per row, then",
        "changes measured against the recipe (averaging the last weights, a larger learning",
        "rate, larger batches; each says whether it was kept). Each",
        f"row trained for {_setting(ablation.get('ablation_minutes'))} minutes (course_lib's "
        "model, which chapter 4",
        "proves equal to `nn.Transformer` in the post-norm configuration; two rows at a time,",
        f"one core each) and scored on the first {f['ablation_ablation_0_test_sources']} test",
        "sources:",
        "",
        "| configuration | what changes | parameters | steps | BLEU | chrF | BLEU gain | chrF gain |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, row in enumerate(rows):
        key = f"ablation_ablation_{i}"
        gain = "" if row.get("bleu_gain") is None else f[f"{key}_bleu_gain_signed"]
        chrf_gain = "" if row.get("chrf_gain") is None else f[f"{key}_chrf_gain_signed"]
        lines.append(
            f"| {f[key + '_config']} | {f[key + '_change']} | "
            f"{f[key + '_parameters']} | {f[key + '_steps']} | "
            f"{f[key + '_bleu']} | {f[key + '_chrf']} | {gain} | {chrf_gain} |"
        )
    lines += [
        "",
        f"In all: {f['ablation_bleu_gain_total_signed']} BLEU and "
        f"{f['ablation_chrf_gain_total_signed']} chrF from the first row to the course's recipe.",
    ]
    gains = [
        (row["bleu_gain"], i)
        for i, row in enumerate(rows)
        if isinstance(row.get("bleu_gain"), (int, float))
    ]
    if gains:
        best = max(gains)[1]
        lines += [
            f"In this run the largest single gain came from the row *{f[f'ablation_ablation_{best}_config']}*",
            f"({f[f'ablation_ablation_{best}_bleu_gain_signed']} BLEU).",
        ]
    if "ablation_bucketing_steps_gain_pct" in f:
        lines += [
            "Bucketing's gain is mostly in speed: it trained "
            f"{f['ablation_bucketing_steps_gain_pct']} more steps in the same time.",
        ]
    second_looks = [
        row["config"]
        for row in ablation.get("ablation", [])
        if "(rejected)" in str(row.get("change")) and (row.get("bleu_gain") or 0) > 0
    ]
    if second_looks:
        lines += [
            "Rows marked *rejected* were decided on longer experiments (chrF against steps);",
            f"*{'*, *'.join(second_looks)}* gained in this short run all the same, so that",
            "decision is to be measured again at full length.",
        ]
    lines += [
        "At this short budget the smaller gains move from run to run (bucketing and the tied",
        "output layer have changed places between complete runs), so read single rows",
        "with care; the longer Tatoeba comparison above, where all the changes are combined,",
        "shows the whole recipe once the models have trained longer.",
        "",
        "![Horizontal bar chart of test BLEU for each row of the ablation, from nn.Transformer's "
        "defaults to the course's recipe](images/performance/ablation.png)",
        "",
    ]
    return lines


def _grading(grading: dict, f: _Figures) -> list[str]:
    return [
        "## Grading a class",
        "",
        f"`course-lib grade` on {f['grading_submissions']} submissions (hostile ones included)",
        f"with {f['grading_jobs']} parallel jobs (`--jobs`): {f['grading_grade_wall_seconds']} s "
        "in all,",
        f"{f['grading_grade_seconds_per_submission']} s per submission (wall time divided by",
        f"the number of submissions); one submission took {f['grading_median_submission_seconds']}"
        " s",
        "from start to verdict (median). One empty sandboxed job (bubblewrap, Python, importing",
        f"torch) costs {f['grading_sandbox_startup_seconds']} s: most of a submission's time.",
        "The {doc}`instructor-guide` has the details.",
        "",
    ]


def _browser(browser: dict, f: _Figures) -> list[str]:
    return [
        "## The translator in the browser",
        "",
        "The {doc}`translator` page runs the bundled model, exported to ONNX by",
        "`course-lib export`, with onnxruntime-web's single-threaded WebAssembly build in",
        f"headless Chromium {f['browser_chromium']}, the site served from `_build/html` on",
        "127.0.0.1 with every other host blocked (requests that tried to leave the machine:",
        f"{f['browser_blocked_requests']}). Times are the page's own, from the click on",
        "*Translate* to the full translation and its attention map on the page",
        "(`benchmarks/bench_browser.py`).",
        "",
        "| | |",
        "|---|---|",
        f"| from opening the page to the model being ready (ms) | {f['browser_model_ready_ms']} |",
        f'| first translation of "{f["browser_sentence"]}" (ms) | '
        f"{f['browser_translate_first_ms']} |",
        f"| the same, median of the next {f['browser_repeats']} presses (ms) | "
        f"{f['browser_translate_ms']} |",
        f'| "{f["browser_translate_long_sentence"]}", median (ms) | '
        f"{f['browser_translate_long_ms']} |",
        f"| downloaded in all (MB) | {f['browser_download_mb']} |",
        f"| of which onnxruntime-web (MB) | {f['browser_download_mb_by_part_onnxruntime']} |",
        f"| of which the exported model (MB) | {f['browser_download_mb_by_part_model']} |",
        f"| of which the page, its theme and scripts (MB) | "
        f"{f['browser_download_mb_by_part_page']} |",
        "",
        "The first translation also pays for onnxruntime's first runs of the two graphs; the",
        "decoder graph has no key/value cache, so a longer sentence costs more per word.",
        "Most of the download is onnxruntime's WebAssembly, which the browser caches.",
        "",
    ]


def render(results: dict) -> str:
    d = results.get("details", {})
    f = _Figures(results)
    lines = [
        "# Performance",
        "",
        "<!-- Generated by benchmarks/report.py from benchmarks/results/latest.json: do not",
        "     edit. Every figure below is a substitution filled in from that file when the",
        "     book is built (book/_ext/bench_numbers.py). -->",
        "",
        "Every number on this page was measured by the scripts in `benchmarks/` and comes",
        "from `benchmarks/results/latest.json`; the page is generated from that file by",
        "`benchmarks/report.py`. Reproduce everything with",
        "",
        "```bash",
        "make bench          # = .venv/bin/python -m benchmarks",
        "python -m benchmarks --only speed decoding toy   # the quick part",
        "```",
        "",
        f"The last complete run took {f['total_minutes']} minutes on the machine below.",
        "Where a figure has a natural peer (`torch.nn.Transformer`, the decoder without a",
        "cache) both were measured **in the same run**, interleaved, and the ratio is reported:",
        "the machine below is shared, and absolute times move by tens of percent between runs.",
        "",
        "## The machine",
        "",
        "| | |",
        "|---|---|",
        f"| CPU | {f['machine_cpu_model']} ({f['machine_cpu_count']} cores) |",
        f"| threads used | {f['machine_threads_used']} |",
        f"| torch | {f['machine_torch_version']} |",
        f"| Python | {f['machine_python_version']} |",
        f"| GPU | {'yes' if results.get('machine', {}).get('cuda_available') else 'none'} |",
        "",
        "## Headline numbers",
        "",
        *_headline(results, f),
        "",
        f"Results file written {f['finished_at']}.",
        "",
    ]
    if d.get("speed"):
        lines += _speed(d["speed"], f)
    if d.get("decoding"):
        lines += _decoding(d["decoding"], f)
    if d.get("toy"):
        lines += _toy(d["toy"], f)
    if d.get("real"):
        lines += _real(d["real"], f)
    if d.get("ablation", {}).get("ablation"):
        lines += _ablation(d["ablation"], f)
    if d.get("grading"):
        lines += _grading(d["grading"], f)
    if d.get("browser"):
        lines += _browser(d["browser"], f)
    sizes = ""
    if "toy_parameters_vs_paper_base" in f and "real_parameters_vs_paper_base" in f:
        sizes = (
            f"  The course's models are about {f['toy_parameters_vs_paper_base']} (bundled "
            f"corpus) and {f['real_parameters_vs_paper_base']} (Tatoeba) times smaller,"
        )
    lines += [
        "## Compared with published setups",
        "",
        "- The original base Transformer has 65 million parameters (Vaswani et al., 2017,",
        "  Table 3). It trained for 100,000 steps (12 hours) on 8 NVIDIA P100 GPUs (§5.2) on",
        "  WMT 2014 English–German, about 4.5 million sentence pairs (§5.1), and reached",
        "  27.3 BLEU (Table 2) {cite}`vaswani2017attention`.",
        *(
            [
                sizes,
                "  and train for minutes on two CPU cores: the numbers above are for learning,",
                "  not records.",
            ]
            if sizes
            else [
                "  The course's models train for minutes on two CPU cores: the numbers above are",
                "  for learning, not records.",
            ]
        ),
        "- The Annotated Transformer {cite}`rush2018annotated` trains on Multi30k German–English",
        "  (about 29 thousand training pairs) on GPUs for several epochs; d2l.ai",
        "  {cite}`zhang2023d2l`",
        "  trains a small Transformer on a few hundred pairs of the same Tatoeba/Anki",
        "  English–French data and shows BLEU on four sentences. The course reports BLEU and",
        "  chrF with sacrebleu on a held-out split grouped by English sentence, with all",
        "  references.",
        "",
        "## Profiling notes",
        "",
        "- Training step: the profile above shows both implementations spending their time in",
        "  the same ATen kernels: matrix products (`aten::mm`, `aten::addmm`) and dropout's",
        "  random masks (`aten::bernoulli_`: CPU random numbers are slow). course_lib stacks",
        "  Q/K/V into one projection (`in_proj`, like `nn.MultiheadAttention`) and calls",
        "  PyTorch's fused `scaled_dot_product_attention`, so in eager mode nothing heavy is",
        "  left that is ours and the time ratio stays near one. The fast training path",
        "  (`course_lib.fast`) draws the dropout masks from 16-bit random lanes instead of",
        "  `bernoulli_`: that is the whole difference between its ratio and the eager one.",
        "  The random words come from `random_` over the whole 64-bit range (PyTorch's",
        "  full-range kernel), cheaper than `randint` over the same range, which reduces every",
        "  word modulo the range; the mask is one `torch.where`.",
        "  With dropout on, attention runs as matrix products (as PyTorch's own kernel does when",
        "  dropout is on), with the scale and the key mask applied in place.",
        "  What bounds it now is the matrix products, the same kernels in both models.",
        "  Without dropout the eager model calls PyTorch's fused CPU attention kernel, which",
        "  pays off for long sequences; for short ones PyTorch's math kernel (two matrix",
        "  products and a softmax, `torch.nn.attention.sdpa_kernel(SDPBackend.MATH)`) is",
        "  faster, so the fast path chooses it for batches of up to",
        f"  {f['speed_math_attention_max_len']} tokens (`fast.MATH_ATTENTION_MAX_LEN`, from a",
        "  sweep of lengths), and the course's sentences are that short.",
        '- Precision: on a CPU with bfloat16 instructions the recipes\' `precision="auto"`',
        "  runs the matrix products in bfloat16 under autocast (on the machine above:",
        f"  {f['speed_recipe_precision']}, the recipe row of the speed table). At the course's",
        "  small sizes the casts to and from bfloat16 (`aten::copy_`) take back part of what",
        "  the faster products save. Both models of every comparison train in the same",
        "  precision.",
        "- `torch.compile` (Inductor) was tried on this CPU and made the step slower, even",
        "  with dropout off, after a compile far longer than the toy run itself.",
        "- Decoding: with the cache, a good part of the time goes to `torch.cat` growing the",
        "  cached keys and values; a preallocated cache would remove most of it.",
        "- Two threads on a busy machine can be far slower than one (oversubscription); the",
        "  chapters therefore fix `torch.set_num_threads` for reproducible timings.",
        "",
    ]
    return "\n".join(lines)


def write_page(results: dict, path: Path = PAGE) -> None:
    path.write_text(render(results), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.report``: regenerate the page from the results file as it is."""
    argv = sys.argv[1:] if argv is None else argv
    results = Path(argv[0]) if argv else RESULTS
    write_page(json.loads(results.read_text(encoding="utf-8")), PAGE)
    print(f"wrote {PAGE.relative_to(ROOT)} from {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
