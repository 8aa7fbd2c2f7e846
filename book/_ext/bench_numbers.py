"""Benchmark figures as MyST substitutions, so that no page types a measured number by hand.

Every leaf of ``benchmarks/results/latest.json`` becomes a substitution named after its
path, with ``bench_`` in front and the section name not repeated:

- top-level ``real_bleu_10min`` -> ``{{ bench_real_bleu_10min }}``
- ``details.real.real_steps`` -> ``{{ bench_real_steps }}`` (the section is already in the key)
- ``details.grading.sandbox_startup_seconds`` -> ``{{ bench_grading_sandbox_startup_seconds }}``
- ``details.ablation.ablation[2].bleu`` -> ``{{ bench_ablation_ablation_2_bleu }}``

Values are formatted once, here: floats with two decimals (thousands separated from 1,000 up),
integers with thousands separators. A fraction (exact match, accuracy, padding share)
also gets a ``_pct`` twin ("16.4%"), a gain a ``_signed`` twin ("+3.48"); a few figures computed
from two measured ones are added by :func:`_derived`. ``python book/_ext/bench_numbers.py``
lists every name with its value.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "latest.json"
PREFIX = "bench_"
# Names of values that are fractions (0.164 exact match); they also get a "_pct" twin.
FRACTION = re.compile(r"match|accuracy|fraction|share|padding")
# The paper's base model: 65 million parameters (Vaswani et al., 2017, Table 3), a constant.
PAPER_BASE_PARAMETERS = 65_000_000


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
        if "gain" in name and isinstance(value, (int, float)) and not isinstance(value, bool):
            out[name + "_signed"] = _signed(value)
        if isinstance(value, float) and 0.0 <= value <= 1.0 and FRACTION.search(name):
            out[name + "_pct"] = f"{value:.1%}"


def _signed(value: float) -> str:
    return f"{value:+.2f}"


def _derived(results: dict) -> dict[str, str]:
    """Figures computed from two measured ones (the page must not do the arithmetic):

    - ``bench_real_bleu_gain_vs_torch`` / ``bench_real_chrf_gain_vs_torch``: the course
      recipe's score minus the plain ``nn.Transformer``'s, same run (and ``_signed`` twins);
    - ``bench_ablation_bucketing_steps_gain_pct``: how many more steps the bucketed row of
      the ablation trained than the random-batch row, in the same time;
    - ``bench_torch_real_target_reached`` (and ``bench_real_target_reached``): "reaches that
      chrF after N seconds" or, when the run ended first (the measured time is None), "does
      not reach that chrF in its M minutes", for prose that must read right either way;
    - ``bench_total_minutes``: the whole benchmark run, in minutes;
    - ``bench_real_parameters_vs_paper_base`` / ``bench_toy_parameters_vs_paper_base``: how
      many times fewer parameters than the paper's base model (65 million, Vaswani et al.
      2017, Table 3) the course's models have.
    """
    out: dict[str, str] = {}
    details = results.get("details", {})
    real = details.get("real", {})
    for metric in ("bleu", "chrf"):
        ours = real.get(f"real_{metric}_10min", results.get(f"real_{metric}_10min"))
        theirs = real.get(f"torch_real_{metric}_10min", results.get(f"torch_real_{metric}_10min"))
        if isinstance(ours, (int, float)) and isinstance(theirs, (int, float)):
            out[f"{PREFIX}real_{metric}_gain_vs_torch"] = format_value(float(ours - theirs))
            out[f"{PREFIX}real_{metric}_gain_vs_torch_signed"] = _signed(ours - theirs)
    for who in ("real", "torch_real"):
        key = f"{who}_seconds_to_target_chrf"
        if key in real:
            seconds, minutes = real[key], real.get("minutes")
            out[f"{PREFIX}{who}_target_reached"] = (
                f"reaches that chrF after {format_value(float(seconds))} seconds"
                if seconds is not None
                else f"does not reach that chrF in its {minutes:g} minutes"
            )
    rows = details.get("ablation", {}).get("ablation", [])
    try:
        out[f"{PREFIX}ablation_bucketing_steps_gain_pct"] = (
            f"{rows[1]['steps'] / rows[0]['steps'] - 1:.0%}"
        )
    except (IndexError, KeyError, TypeError, ZeroDivisionError):
        pass
    if isinstance(results.get("total_seconds"), (int, float)):
        out[f"{PREFIX}total_minutes"] = f"{results['total_seconds'] / 60:.0f}"
    for section, key in (("real", "real_parameters"), ("toy", "parameters")):
        count = details.get(section, {}).get(key)
        if isinstance(count, int) and count > 0:
            out[f"{PREFIX}{section}_parameters_vs_paper_base"] = (
                f"{PAPER_BASE_PARAMETERS / count:.0f}"
            )
    return out


def substitutions(results: dict) -> dict[str, str]:
    """Every benchmark figure of ``results`` (the parsed ``latest.json``) by substitution name.

    A value whose name contains ``gain`` also gets a ``_signed`` twin ("+3.48"), for tables
    of differences; :func:`_derived` adds the few figures computed from two measured ones.
    """
    out: dict[str, str] = {}
    for key, value in results.items():
        if key == "details":
            for section, body in value.items():
                _walk(body, [section], out)
        else:
            _walk(value, [key], out)
    return {**out, **_derived(results)}


def load(path: Path = RESULTS) -> dict[str, str]:
    return substitutions(json.loads(path.read_text(encoding="utf-8")))


def add_substitutions(app, config) -> None:
    # Results next to the book being built (a copied test book has none: then no names, and
    # a page that uses one fails the build with "undefined substitution").
    results = Path(app.confdir) / "benchmarks" / "results" / "latest.json"
    generated = load(results) if results.is_file() else {}
    # Names a page sets itself in _config.yml win over generated ones.
    config.myst_substitutions = {**generated, **(config.myst_substitutions or {})}


def setup(app):
    app.connect("config-inited", add_substitutions)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.0"}


if __name__ == "__main__":
    for name, text in sorted(load().items()):
        print(f"{name} = {text}")
