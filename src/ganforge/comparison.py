"""The comparison of variants over seeds (the scores it knows are in `ganforge.scores`):
per-variant summaries with bootstrap intervals,
pairwise A/B tests between the variants of one dataset (Holm-corrected), the EMA generator
against the raw one, and the Markdown of it all (tables built with pandas)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ganforge.protocol import describe, generator_stamps, seeds_agree, table_warnings
from ganforge.scores import GENERATOR_NOTE, METRIC_BY_KEY, METRICS, PRIMARY, Metric, lookup
from ganforge.stats import pairwise_table, summarize, to_dict


def run_value(result: Mapping[str, Any], generator: str, key: str) -> float | None:
    """A score of one run: of the named generator (raw where it has none), else of the run."""
    gens = result["generators"]
    value = lookup(gens.get(generator) or gens.get("raw") or {}, key)
    return value if value is not None else lookup(result, key)


def raw_values(results: Sequence[Mapping[str, Any]], key: str) -> list[float]:
    """A generator score of the raw generators (none for scores of the run as a whole)."""
    return [v for r in results if (v := lookup(r["generators"].get("raw") or {}, key)) is not None]


def best_values(results: Sequence[Mapping[str, Any]], key: str) -> list[float]:
    """A generator score of the best checkpoints (selected on the validation sample)."""
    return [v for r in results if (v := lookup(r["generators"].get("best") or {}, key)) is not None]


def best_step(result: Mapping[str, Any]) -> int | None:
    """The step of a run's best checkpoint (None: it kept none)."""
    if "best" not in result["generators"]:
        return None
    step = (((result.get("training") or {}).get("validation") or {}).get("best") or {}).get("step")
    return int(step) if step is not None else None


def arm_values(results: Sequence[Mapping[str, Any]], generator: str, key: str) -> list[float]:
    return [v for r in results if (v := run_value(r, generator, key)) is not None]


def compare(
    results: Mapping[str, Sequence[Mapping[str, Any]]],
    datasets: Mapping[str, str],
    seeds: Sequence[int],
    alpha: float,
) -> dict[str, Any]:
    """Summaries and tests of every metric, per dataset. `results[variant]` holds each seed's
    metrics JSON, `datasets[variant]` the dataset it was trained on."""
    by_dataset: dict[str, list[str]] = {}
    for variant, dataset in datasets.items():
        by_dataset.setdefault(dataset, []).append(variant)
    out: dict[str, Any] = {"alpha": alpha, "seeds": list(seeds), "generator": GENERATOR_NOTE, "datasets": {}}
    for dataset, names in by_dataset.items():
        first = results[names[0]][0]
        entry: dict[str, Any] = {
            "stand_in": first.get("stand_in"),
            "stand_in_for": first.get("stand_in_for"),
            "variants": names,
            "generators": {
                v: "ema" if all("ema" in r["generators"] for r in results[v]) else "raw" for v in names
            },
            "baselines": first.get("baselines") or {},
            "metrics": {},
        }
        entry["best_steps"] = {
            v: steps for v in names if (steps := [b for r in results[v] if (b := best_step(r)) is not None])
        }
        entry["protocol"] = {v: generator_stamps(results[v][0], entry["generators"][v]) for v in names}
        entry["protocol_warnings"] = table_warnings(entry["protocol"]) + [
            f"{v}, across seeds: {line}"
            for v in names
            for line in seeds_agree(results[v], entry["generators"][v])
        ]
        for metric in METRICS:
            arms = {v: arm_values(results[v], "ema", metric.key) for v in names}
            arms = {v: vals for v, vals in arms.items() if vals}
            if not arms:
                continue
            block: dict[str, Any] = {
                "label": metric.label,
                "higher_is_better": metric.higher_is_better,
                "summary": {v: to_dict(summarize(vals)) for v, vals in arms.items()},
            }
            if metric.headline:  # the raw generator beside the EMA one, never only one of them
                raw = {v: raw_values(results[v], metric.key) for v in arms}
                block["summary_raw"] = {v: to_dict(summarize(vals)) for v, vals in raw.items() if vals}
                best = {v: best_values(results[v], metric.key) for v in arms}
                if any(best.values()):  # the best checkpoints, where training kept them
                    block["summary_best"] = {v: to_dict(summarize(vals)) for v, vals in best.items() if vals}
            if metric.higher_is_better is not None:
                if len(arms) > 1:
                    block["pairwise"] = {
                        f"{c.a} vs {c.b}": to_dict(c)
                        for c in pairwise_table(arms, metric.higher_is_better, alpha)
                    }
                ema_effect = _ema_effect(results, names, metric, alpha)
                if ema_effect:
                    block["ema_vs_raw"] = ema_effect
            entry["metrics"][metric.key] = block
        out["datasets"][dataset] = entry
    return out


def _ema_effect(
    results: Mapping[str, Sequence[Mapping[str, Any]]], names: list[str], metric: Metric, alpha: float
) -> dict[str, Any]:
    """The EMA generator against the raw one, for every variant that has both (one table)."""
    arms: dict[str, list[float]] = {}
    pairs = []
    for v in names:
        if not all("ema" in r["generators"] for r in results[v]):
            continue
        ema = [x for r in results[v] if (x := lookup(r["generators"]["ema"], metric.key)) is not None]
        raw = [x for r in results[v] if (x := lookup(r["generators"]["raw"], metric.key)) is not None]
        if ema and raw:
            arms[f"{v} (EMA)"], arms[f"{v} (raw)"] = ema, raw
            pairs.append((f"{v} (EMA)", f"{v} (raw)"))
    if not pairs:
        return {}
    table = pairwise_table(arms, bool(metric.higher_is_better), alpha, pairs)
    return {c.a.removesuffix(" (EMA)"): to_dict(c) for c in table}


def headlines(comparison: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """The compact metrics DVC shows: per variant, the mean over seeds of each headline score
    of its EMA generator (the raw one where it has none), the 95% interval of its dataset's
    primary score (`<short>_low`, `_high`), the raw generator's mean of it (`<short>_raw`) and
    the best checkpoint's (`<short>_best`, where training kept one)."""
    out: dict[str, dict[str, float]] = {}
    for entry in comparison["datasets"].values():
        primary = primary_metric(entry)
        for key, block in entry["metrics"].items():
            metric = METRIC_BY_KEY[key]
            if not metric.headline:
                continue
            for variant, s in block["summary"].items():
                row = out.setdefault(variant, {})
                row[metric.short] = _rounded(s["mean"])
                if key == primary and s["ci_low"] is not None:
                    row[f"{metric.short}_low"] = _rounded(s["ci_low"])
                    row[f"{metric.short}_high"] = _rounded(s["ci_high"])
                raw = block.get("summary_raw", {}).get(variant)
                if (
                    key == primary
                    and raw is not None
                    and "ema" in entry.get("generators", {}).get(variant, "")
                ):
                    row[f"{metric.short}_raw"] = _rounded(raw["mean"])
                best = block.get("summary_best", {}).get(variant)
                if key == primary and best is not None:
                    row[f"{metric.short}_best"] = _rounded(best["mean"])
    return out


def _rounded(x: float) -> float:
    """Four significant digits: what a leaderboard shows, and what `dvc metrics diff` compares."""
    return float(f"{x:.4g}")


def primary_metric(entry: Mapping[str, Any]) -> str | None:
    """The score a dataset's variants are ranked by: the first of PRIMARY it has."""
    return next((k for k in PRIMARY if k in entry["metrics"]), None)


# -- Markdown ------------------------------------------------------------------------------
def fmt(x: float | None, digits: int = 4) -> str:
    return "–" if x is None else f"{x:.{digits}g}"


def summary_frame(block: Mapping[str, Any]) -> pd.DataFrame:
    rows = []
    for variant, s in block["summary"].items():
        ci = f"[{fmt(s['ci_low'])}, {fmt(s['ci_high'])}]" if s["ci_low"] is not None else "–"
        std = f" ± {fmt(s['std'], 3)}" if s["std"] is not None else ""
        rows.append(
            {
                "variant": variant,
                "n": s["n"],
                "mean ± std": f"{fmt(s['mean'])}{std}",
                "median": fmt(s["median"]),
                "95% CI (bootstrap)": ci,
            }
        )
    frame = pd.DataFrame(rows)
    if block["higher_is_better"] is not None:
        means = {v: s["mean"] for v, s in block["summary"].items()}
        order = sorted(means, key=lambda v: means[v], reverse=bool(block["higher_is_better"]))
        frame = frame.set_index("variant").loc[order].reset_index()
    return frame


def pairwise_frame(pairs: Mapping[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "A": c["a"],
                "B": c["b"],
                "mean A": fmt(c["mean_a"]),
                "mean B": fmt(c["mean_b"]),
                "Welch p": fmt(c["welch_p"], 3),
                "Welch p (Holm)": fmt(c["welch_p_holm"], 3),
                "MWU p (Holm)": fmt(c["mwu_p_holm"], 3),
                "P(A better)": fmt(c["prob_improvement"], 3),
                "verdict": c["verdict"],
                "note": c["power_note"],
            }
            for c in pairs.values()
        ]
    )


def protocol_lines(entry: Mapping[str, Any]) -> list[str]:
    """How this table's scores were computed, and a warning line for every way in which the
    variants' (or one variant's seeds') protocols differ."""
    stamps = entry.get("protocol") or {}
    warnings = entry.get("protocol_warnings") or []
    lines: list[str] = []
    if warnings:
        lines += ["> **Protocols differ in this table**: compare these numbers knowing that", ">"]
        lines += [f"> - {line}" for line in warnings]
        lines.append("")
    first = next((s for s in stamps.values() if s), None)
    if first:
        shown = "; ".join(f"`{key}`: {describe(stamp)}" for key, stamp in first.items())
        lines += [f"Protocol{' (of the first variant)' if warnings else ''}: {shown}.", ""]
    return lines


def markdown(comparison: Mapping[str, Any]) -> str:
    lines = [
        "# Comparison of variants",
        "",
        f"Scores of the {comparison['generator']} generator over seeds {comparison['seeds']}. "
        f"Intervals: 95% bootstrap CI of the mean (with fewer than 5 seeds they are rough). "
        f"Tests: Welch's t and Mann-Whitney U, two-sided, Holm-corrected within each table; "
        f"verdicts use Welch's t at α = {comparison['alpha']:g}. P(A better) is the probability "
        f"of improvement U / (n_A n_B).",
        "",
    ]
    arrow = {True: "higher is better", False: "lower is better", None: "no better direction"}
    for dataset, entry in comparison["datasets"].items():
        lines += [f"## {dataset}", ""]
        if entry.get("stand_in"):
            lines += [
                f"> **Stand-in data:** `{dataset}` replaces `{entry.get('stand_in_for')}`, which could not "
                f"be fetched here. These numbers are about `{dataset}`.",
                "",
            ]
        lines += protocol_lines(entry)
        for key, block in entry["metrics"].items():
            lines += [
                f"### {block['label']} (`{key}`, {arrow[block['higher_is_better']]})",
                "",
                summary_frame(block).to_markdown(index=False),
                "",
            ]
            for name, scores in entry.get("baselines", {}).items():
                value = lookup(scores, key)
                if value is not None:
                    lines += [f"Baseline `{name}`: {fmt(value)}.", ""]
            if block.get("pairwise"):
                lines += [pairwise_frame(block["pairwise"]).to_markdown(index=False), ""]
            if block.get("ema_vs_raw"):
                lines += [
                    "EMA generator against the raw one:",
                    "",
                    pairwise_frame(block["ema_vs_raw"]).to_markdown(index=False),
                    "",
                ]
    return "\n".join(lines)
