"""The browser benchmark's bookkeeping: a partial run (``--only browser``) merges into
``latest.json`` without touching the other sections, and the performance page shows it
through substitutions (the timing itself is measured by ``python -m benchmarks``)."""

from __future__ import annotations

import re

from benchmarks import report
from benchmarks.__main__ import merge_results

BROWSER = {
    "browser_chromium": "156.0",
    "browser_sentence": "I hate pizza",
    "browser_model_ready_ms": 3356.2,
    "browser_translate_first_ms": 141.3,
    "browser_translate_ms": 22.9,
    "browser_translate_long_sentence": "We don't eat the big red apples",
    "browser_translate_long_ms": 40.4,
    "browser_repeats": 10,
    "browser_download_mb": 20.43,
    "browser_download_mb_by_part": {"model": 6.03, "onnxruntime": 14.31, "page": 0.09},
    "browser_blocked_requests": 0,
}


def test_a_partial_run_keeps_the_other_sections_and_the_full_runs_date():
    previous = {
        "kv_cache_speedup": 5.0,
        "details": {"decoding": {"kv_cache_speedup": 5.0}},
        "benchmark_seconds": {"decoding": 11.0},
        "total_seconds": 1300.0,
        "finished_at": "2026-11-26 00:36:15 UTC",
    }
    results = {
        "machine": {"cpu_count": 2},
        "details": {"browser": BROWSER},
        "browser_translate_ms": 22.9,
        "benchmark_seconds": {"browser": 20.0},
        "total_seconds": 20.0,
        "finished_at": "2026-12-01 15:00:00 UTC",
    }
    merged = merge_results(previous, results, partial=True)
    assert merged["details"] == {"decoding": {"kv_cache_speedup": 5.0}, "browser": BROWSER}
    assert merged["kv_cache_speedup"] == 5.0 and merged["browser_translate_ms"] == 22.9
    assert merged["benchmark_seconds"] == {"decoding": 11.0, "browser": 20.0}
    assert merged["total_seconds"] == 1300.0
    assert merged["finished_at"] == "2026-11-26 00:36:15 UTC"
    assert merged["section_finished_at"] == {"browser": "2026-12-01 15:00:00 UTC"}
    full = merge_results(previous, results, partial=False)
    assert full["total_seconds"] == 20.0


def test_the_performance_page_shows_the_browser_section():
    results = {"browser_translate_ms": 22.9, "browser_download_mb": 20.43}
    results["details"] = {"browser": BROWSER}
    page = report.render(results)
    assert "## The translator in the browser" in page
    names = report.bench_numbers.substitutions(results)
    used = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", page))
    assert used <= set(names), used - set(names)
    shown = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: names[m.group(1)], page)
    assert "| the same, median of the next 10 presses (ms) | 22.90 |" in shown
    assert "| of which onnxruntime-web (MB) | 14.31 |" in shown
    assert "| translator page: everything it downloads (MB) | 20.43 |" in shown
