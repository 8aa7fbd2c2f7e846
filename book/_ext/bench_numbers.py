"""Benchmark figures as MyST substitutions, so that no page types a measured number by hand.

Every leaf of ``benchmarks/results/latest.json`` becomes a substitution named after its
path, with ``bench_`` in front and the section name not repeated:

- top-level ``real_bleu_10min`` -> ``{{ bench_real_bleu_10min }}``
- ``details.real.real_steps`` -> ``{{ bench_real_steps }}`` (the section is already in the key)
- ``details.grading.sandbox_startup_seconds`` -> ``{{ bench_grading_sandbox_startup_seconds }}``
- ``details.ablation.ablation[2].bleu`` -> ``{{ bench_ablation_ablation_2_bleu }}``

Values are formatted once, here: floats with two decimals (thousands separated from 1,000 up),
integers with thousands separators. A fraction (exact match, accuracy, padding share)
also gets a ``_pct`` twin ("16.4%"). ``python book/_ext/bench_numbers.py`` lists every name with its value.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "latest.json"
PREFIX = "bench_"
# Names of values that are fractions (0.164 exact match); they also get a "_pct" twin.
FRACTION = re.compile(r"match|accuracy|fraction|share|padding")


def format_value(value) -> str:
    """The text a page shows for one measured value."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.2f}"
    return str(value)


def _name(parts: list[str]) -> str:
    return re.sub(r"[^0-9a-zA-Z_]", "_", "_".join(parts))


def _walk(value, parts: list[str], out: dict[str, str]) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            child_parts = parts + [str(key)]
            # details.real.real_steps -> real_steps, not real_real_steps
            if len(parts) == 1 and str(key).startswith(parts[0] + "_"):
                child_parts = [str(key)]
            _walk(child, child_parts, out)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            _walk(child, parts + [str(index)], out)
    elif value is not None:
        name = PREFIX + _name(parts)
        out[name] = format_value(value)
        if isinstance(value, float) and 0.0 <= value <= 1.0 and FRACTION.search(name):
            out[name + "_pct"] = f"{value:.1%}"


def substitutions(results: dict) -> dict[str, str]:
    """Every benchmark figure of ``results`` (the parsed ``latest.json``) by substitution name."""
    out: dict[str, str] = {}
    for key, value in results.items():
        if key == "details":
            for section, body in value.items():
                _walk(body, [section], out)
        else:
            _walk(value, [key], out)
    return out


def load(path: Path = RESULTS) -> dict[str, str]:
    return substitutions(json.loads(path.read_text(encoding="utf-8")))


def add_substitutions(app, config) -> None:
    # Names a page sets itself in _config.yml win over generated ones.
    config.myst_substitutions = {**load(), **(config.myst_substitutions or {})}


def setup(app):
    app.connect("config-inited", add_substitutions)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.0"}


if __name__ == "__main__":
    for name, text in sorted(load().items()):
        print(f"{name} = {text}")
