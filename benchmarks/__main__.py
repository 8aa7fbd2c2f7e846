"""Run every benchmark and print one JSON object: ``python -m benchmarks``.

The results are also written to ``benchmarks/results/latest.json``, and plots for the
book's performance page to ``book/images/performance/``. Each figure that has a peer
(``torch.nn.Transformer``, the uncached decoder) is measured against it in the same run.

Options: ``--only NAME [NAME ...]`` runs a subset (speed, decoding, toy, grading, real,
ablation, notebooks, book, browser) and merges its results into the existing
``latest.json`` (the other sections' numbers, and the date and length of the last full
run, are kept); ``--real-minutes M`` sets the real-corpus training budget
(default 10), ``--ablation-minutes M`` that of each recipe-ablation row (default 3).

Real data's headline is time to quality: the training seconds until the validation chrF
reaches ``bench_training.TARGET_CHRF``, course and ``nn.Transformer`` side by side;
``decoding`` also translates the whole Tatoeba test split (sentences per second against an
uncached ``nn.Transformer`` greedy loop with the same weights).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "latest.json"
THREADS = 2
ALL = ("speed", "decoding", "toy", "grading", "real", "ablation", "notebooks", "book", "browser")
HEADLINE = (
    "train_step_ratio_vs_torch",
    "inference_forward_ratio_vs_torch",
    "kv_cache_speedup",
    "translate_sentences_per_second",
    "translate_beam_sentences_per_second",
    "torch_translate_sentences_per_second",
    "translate_sentences_per_second_ratio_vs_torch",
    "toy_seconds_to_99pct",
    "real_target_chrf",
    "real_seconds_to_target_chrf",
    "torch_real_seconds_to_target_chrf",
    "real_bleu_10min",
    "real_chrf_10min",
    "torch_real_bleu_10min",
    "torch_real_chrf_10min",
    "ablation_bleu_gain_total",
    "grade_seconds_per_submission",
    "notebooks_seconds",
    "book_build_seconds",
    "browser_translate_ms",
    "browser_download_mb",
)


def _log(message: str) -> None:
    print(f"[benchmarks] {message}", file=sys.stderr, flush=True)


def bench_notebooks() -> dict:
    """Execute each chapter notebook once (as nbval and the book do) and time it."""
    import nbformat
    from nbclient import NotebookClient

    seconds: dict[str, float] = {}
    for notebook in sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(notebook, as_version=4)
        start = time.perf_counter()
        NotebookClient(
            nb,
            timeout=900,
            kernel_name="python3",
            resources={"metadata": {"path": str(notebook.parent)}},
        ).execute()
        seconds[notebook.stem] = round(time.perf_counter() - start, 1)
        _log(f"{notebook.name}: {seconds[notebook.stem]} s")
    return {"notebooks_seconds": round(sum(seconds.values()), 1), "notebook_seconds": seconds}


def _two_at_a_time(jobs: dict[str, list[str]]) -> dict[str, dict]:
    """Run ``python -m benchmarks.bench_training ARGS`` for each job, two processes at a time
    with one thread each (one core each on this 2-core machine); each job's last output line
    is its JSON result."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    names, results = list(jobs), {}
    for begin in range(0, len(names), 2):
        running = {
            name: subprocess.Popen(
                [sys.executable, "-m", "benchmarks.bench_training", *jobs[name], "--threads", "1"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
            for name in names[begin : begin + 2]
        }
        for name, job in running.items():
            out, _ = job.communicate()
            if job.returncode != 0:
                raise SystemExit(f"training benchmark {name!r} failed (exit {job.returncode})")
            results[name] = json.loads(out.strip().splitlines()[-1])
            _log(f"{name}: done")
    return results


def bench_real(minutes: float) -> dict:
    """The course's recipe and the nn.Transformer baseline, trained side by side for the same
    wall-clock budget, one process and one thread (one core) each, on the same split."""
    budget = ["real", "--minutes", str(minutes)]
    runs = _two_at_a_time({"course": [*budget, "--no-baseline"], "torch": [*budget, "--no-course"]})
    return {
        "parallel": "course and torch trained at the same time, 1 thread each",
        **runs["torch"],
        **runs["course"],
    }


def bench_ablation(minutes: float) -> dict:
    """The recipe, one change at a time, each row trained for ``minutes`` (two at a time)."""
    from benchmarks.bench_training import ABLATION, RECIPE_ROW

    runs = _two_at_a_time(
        {
            name: ["ablation", "--row", str(i), "--minutes", str(minutes)]
            for i, name in enumerate(ABLATION)
        }
    )
    rows = list(runs.values())
    for before, row in zip([None, *rows], rows):
        if row.get("versus"):  # compared with a named row, not the one above
            before = runs[row["versus"]]
        for metric in ("bleu", "chrf"):
            gain = None if before is None else round(row[metric] - before[metric], 2)
            row[f"{metric}_gain"] = gain
    return {
        "ablation_minutes": minutes,
        "ablation": rows,
        "ablation_bleu_gain_total": round(runs[RECIPE_ROW]["bleu"] - rows[0]["bleu"], 2),
        "ablation_chrf_gain_total": round(runs[RECIPE_ROW]["chrf"] - rows[0]["chrf"], 2),
    }


def bench_book() -> dict:
    """Build the whole website from scratch (every chapter executed), as ``make book`` does.

    The site's JavaScript must be installed first (``make site-js``, done by ``make book``).
    """
    start = time.perf_counter()
    subprocess.run(
        [
            str(Path(sys.executable).parent / "jupyter-book"),
            "build",
            str(ROOT),
            "--all",
            "-W",
            "-n",
            "--keep-going",
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    return {"book_build_seconds": round(time.perf_counter() - start, 1)}


def toy_with_papers_dropout() -> dict:
    """The toy recipe once more with the paper's dropout (``SMALL_MODEL``'s 0.1), which the
    recipe leaves out (``recipes.RECIPE_MODEL_CHANGES``): the evidence for that choice."""
    from benchmarks import bench_training
    from course_lib.recipes import SMALL_MODEL

    dropout = SMALL_MODEL["dropout"]
    paper = bench_training.run_toy(model_overrides={"dropout": dropout})
    compared = (
        "seconds_to_99pct",
        "steps_to_99pct",
        "seconds_per_step",
        "generalisation_exact_match",
    )
    return {
        "toy_with_dropout": dropout,
        **{f"toy_with_dropout_{key}": paper[f"toy_{key}"] for key in compared},
    }


def run(
    only: tuple[str, ...] = ALL, real_minutes: float = 10.0, ablation_minutes: float = 3.0
) -> dict:
    import torch

    from benchmarks.machine import machine_info

    torch.set_num_threads(THREADS)
    results: dict = {"machine": machine_info(THREADS), "details": {}}
    started = time.perf_counter()
    timings: dict[str, float] = {}
    for name in only:
        _log(f"running {name} ...")
        start = time.perf_counter()
        if name == "speed":
            from benchmarks import bench_speed

            output = bench_speed.run(threads=THREADS)
        elif name == "decoding":
            from benchmarks import bench_decoding

            output = bench_decoding.run()
        elif name == "toy":
            from benchmarks import bench_training

            output = bench_training.run_toy()
            output.update(toy_with_papers_dropout())
        elif name == "real":
            output = bench_real(real_minutes)
        elif name == "ablation":
            output = bench_ablation(ablation_minutes)
        elif name == "grading":
            from benchmarks import bench_grading

            output = bench_grading.run()
        elif name == "notebooks":
            output = bench_notebooks()
        elif name == "book":
            output = bench_book()
        elif name == "browser":  # needs the built site: after "book" in a full run
            from benchmarks import bench_browser

            output = bench_browser.run()
        else:
            raise SystemExit(f"unknown benchmark {name!r}; choose from {', '.join(ALL)}")
        results["details"][name] = output
        results.update({key: output[key] for key in HEADLINE if key in output})
        timings[name] = round(time.perf_counter() - start, 1)
        _log(f"{name} done in {timings[name]} s")
    results["benchmark_seconds"] = timings
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    results["finished_at"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    return results


def merge_results(previous: dict, results: dict, partial: bool) -> dict:
    """``latest.json`` after a run: the sections that ran replace theirs, the others stay.

    A partial run (``--only``) keeps the last full run's ``finished_at`` and
    ``total_seconds`` (the page quotes them for the whole file) and records when each of
    its sections ran in ``section_finished_at``.
    """
    merged = {**previous, **results}
    merged["details"] = {**previous.get("details", {}), **results["details"]}
    merged["benchmark_seconds"] = {
        **previous.get("benchmark_seconds", {}),
        **results["benchmark_seconds"],
    }
    stamps = dict(previous.get("section_finished_at", {}))
    stamps.update({name: results["finished_at"] for name in results["details"]})
    merged["section_finished_at"] = stamps
    if partial and "total_seconds" in previous:
        merged["total_seconds"] = previous["total_seconds"]
        merged["finished_at"] = previous["finished_at"]
    return merged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--only", nargs="+", choices=ALL, default=list(ALL))
    parser.add_argument("--real-minutes", type=float, default=10.0)
    parser.add_argument("--ablation-minutes", type=float, default=3.0)
    parser.add_argument("--no-save", action="store_true", help="do not write results/plots")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))
    results = run(tuple(args.only), args.real_minutes, args.ablation_minutes)
    if not args.no_save:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        previous = merge_results(previous, results, partial=set(args.only) != set(ALL))
        RESULTS.write_text(json.dumps(previous, indent=2, sort_keys=True) + "\n")
        from benchmarks.plots import write_plots

        write_plots(previous, ROOT / "book" / "images" / "performance")
        from benchmarks.report import write_page

        write_page(previous, ROOT / "book" / "performance.md")
    print(json.dumps(results, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
