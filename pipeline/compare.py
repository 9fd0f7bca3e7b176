"""`compare`: per-variant summaries over seeds and pairwise A/B tests between variants of the
same dataset, for every score: `reports/comparison.json` (for `dvc metrics`) and
`reports/comparison.md` (tables built with pandas)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ganforge.errors import MissingDataError
from ganforge.io import atomic_path, write_json
from ganforge.stats import pairwise_table, summarize, to_dict
from ganforge.tracking import MlflowTracker, default_uri
from pipeline.evaluate import METRICS_DIR
from pipeline.params import load_params

COMPARISON_JSON = Path("reports/comparison.json")
COMPARISON_MD = Path("reports/comparison.md")


@dataclass(frozen=True)
class Metric:
    key: str
    """Path under a generator's scores, e.g. `domain.fd`."""
    label: str
    higher_is_better: bool | None
    """None: summarised but not tested (no better direction, e.g. density)."""


# Every score the report knows, with its direction. Order: how tables are listed.
METRICS = [
    Metric("inception.fd", "FID (Inception)", False),
    Metric("inception.kid_mean", "KID (Inception)", False),
    Metric("inception.is", "IS (Inception)", True),
    Metric("inception.precision", "precision (Inception)", True),
    Metric("inception.recall", "recall (Inception)", True),
    Metric("inception.coverage", "coverage (Inception)", True),
    Metric("domain.fd", "FD (domain classifier)", False),
    Metric("domain.kid_mean", "KID (domain classifier)", False),
    Metric("domain.is", "IS (domain classifier)", True),
    Metric("domain.precision", "precision (domain)", True),
    Metric("domain.recall", "recall (domain)", True),
    Metric("domain.density", "density (domain)", None),
    Metric("domain.coverage", "coverage (domain)", True),
    Metric("classes.classes_hit", "classes hit", True),
    Metric("classes.class_kl", "class KL to real", False),
    Metric("classes.conditional_accuracy", "conditional accuracy", True),
    Metric("modes.modes_covered", "modes covered", True),
    Metric("modes.high_quality_fraction", "high-quality fraction", True),
    Metric("modes.reverse_kl", "mode reverse KL", False),
    Metric("modes.mean_abs_radius_error", "radius error", False),
    Metric("semi_supervised.test_error", "test error (semi-supervised D)", False),
    Metric("semi_supervised.baseline_test_error", "test error (baseline on the same labels)", False),
    Metric("points.fd", "FD (2-D points)", False),
    Metric("points.precision", "precision (points)", True),
    Metric("points.recall", "recall (points)", True),
]
PRIMARY = ["inception.fd", "domain.fd", "modes.high_quality_fraction", "modes.mean_abs_radius_error"]


def lookup(scores: dict[str, Any], key: str) -> float | None:
    value: Any = scores
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def load_results(root: Path, variants: list[str], seeds: list[int]) -> dict[str, list[dict[str, Any]]]:
    """Every seed's metrics JSON of every variant (missing files are an error)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for variant in variants:
        out[variant] = []
        for seed in seeds:
            path = root / METRICS_DIR / variant / f"{seed}.json"
            if not path.is_file():
                raise MissingDataError(f"{path} not found: run `dvc repro evaluate@{variant}`")
            out[variant].append(json.loads(path.read_text(encoding="utf-8")))
    return out


def arm_values(results: list[dict[str, Any]], generator: str, key: str) -> list[float]:
    values = []
    for r in results:
        gens = r["generators"]
        scores = gens.get(generator) or gens.get("raw") or {}
        value = lookup(scores, key)
        if value is None:  # scores of the run as a whole (the semi-supervised classifier)
            value = lookup(r, key)
        if value is not None:
            values.append(value)
    return values


def compare(root: Path) -> dict[str, Any]:
    """Build the comparison of every dataset of the profile."""
    params = load_params(root)
    run = params.get("run") or {}
    alpha = float((params.get("compare") or {}).get("alpha", 0.05))
    variants = dict(run.get("variants") or {})
    seeds = [int(s) for s in run.get("seeds", [])]
    results = load_results(root, list(variants), seeds)
    by_dataset: dict[str, list[str]] = {}
    for variant, dataset in variants.items():
        by_dataset.setdefault(dataset, []).append(variant)
    out: dict[str, Any] = {
        "alpha": alpha,
        "seeds": seeds,
        "generator": "ema (raw where a run has no EMA)",
        "datasets": {},
    }
    for dataset, names in by_dataset.items():
        first = results[names[0]][0]
        entry: dict[str, Any] = {
            "stand_in": first.get("stand_in"),
            "stand_in_for": first.get("stand_in_for"),
            "variants": names,
            "metrics": {},
        }
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
    results: dict[str, list[dict[str, Any]]], names: list[str], metric: Metric, alpha: float
) -> dict[str, Any]:
    """The EMA generator against the raw one, for every variant that has both (one table)."""
    arms: dict[str, list[float]] = {}
    pairs = []
    for v in names:
        if not all("ema" in r["generators"] for r in results[v]):
            continue
        ema, raw = arm_values(results[v], "ema", metric.key), arm_values(results[v], "raw", metric.key)
        if ema and raw:
            arms[f"{v} (EMA)"], arms[f"{v} (raw)"] = ema, raw
            pairs.append((f"{v} (EMA)", f"{v} (raw)"))
    if not pairs:
        return {}
    table = pairwise_table(arms, bool(metric.higher_is_better), alpha, pairs)
    return {c.a.removesuffix(" (EMA)"): to_dict(c) for c in table}


# -- Markdown ------------------------------------------------------------------------------
def _fmt(x: float | None, digits: int = 4) -> str:
    if x is None:
        return "–"
    return f"{x:.{digits}g}"


def summary_frame(block: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for variant, s in block["summary"].items():
        ci = f"[{_fmt(s['ci_low'])}, {_fmt(s['ci_high'])}]" if s["ci_low"] is not None else "–"
        std = f" ± {_fmt(s['std'], 3)}" if s["std"] is not None else ""
        rows.append(
            {
                "variant": variant,
                "n": s["n"],
                "mean ± std": f"{_fmt(s['mean'])}{std}",
                "median": _fmt(s["median"]),
                "95% CI (bootstrap)": ci,
            }
        )
    frame = pd.DataFrame(rows)
    if block["higher_is_better"] is not None:
        means = {v: s["mean"] for v, s in block["summary"].items()}
        order = sorted(means, key=lambda v: means[v], reverse=bool(block["higher_is_better"]))
        frame = frame.set_index("variant").loc[order].reset_index()
    return frame


def pairwise_frame(pairs: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "A": c["a"],
                "B": c["b"],
                "mean A": _fmt(c["mean_a"]),
                "mean B": _fmt(c["mean_b"]),
                "Welch p": _fmt(c["welch_p"], 3),
                "Welch p (Holm)": _fmt(c["welch_p_holm"], 3),
                "MWU p (Holm)": _fmt(c["mwu_p_holm"], 3),
                "P(A better)": _fmt(c["prob_improvement"], 3),
                "verdict": c["verdict"],
                "note": c["power_note"],
            }
            for c in pairs.values()
        ]
    )


def markdown(comparison: dict[str, Any]) -> str:
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
    for dataset, entry in comparison["datasets"].items():
        lines += [f"## {dataset}", ""]
        if entry.get("stand_in"):
            lines += [
                f"> **Stand-in data:** `{dataset}` replaces `{entry.get('stand_in_for')}`, which could not "
                f"be fetched here. These numbers are about `{dataset}`.",
                "",
            ]
        for key, block in entry["metrics"].items():
            arrow = {True: "higher is better", False: "lower is better", None: "no better direction"}
            lines += [
                f"### {block['label']} (`{key}`, {arrow[block['higher_is_better']]})",
                "",
                summary_frame(block).to_markdown(index=False),
                "",
            ]
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


def write_comparison(root: Path) -> str:
    comparison = compare(root)
    write_json(root / COMPARISON_JSON, comparison)
    with atomic_path(root / COMPARISON_MD) as tmp:
        tmp.write_text(markdown(comparison), encoding="utf-8")
    params = load_params(root)
    experiment = str((params.get("tracking") or {}).get("experiment", "ganforge"))
    tracker = MlflowTracker(
        default_uri(root),
        experiment,
        "comparison",
        {"kind": "comparison", "profile": str(params.get("profile"))},
    )
    for path in (COMPARISON_MD, COMPARISON_JSON):
        tracker.log_artifact(root / path, "comparison")
    tracker.close()
    tests = sum(
        len(b.get("pairwise", {})) for e in comparison["datasets"].values() for b in e["metrics"].values()
    )
    return (
        f"compared {sum(len(e['variants']) for e in comparison['datasets'].values())} variants on "
        f"{len(comparison['datasets'])} datasets: {tests} pairwise tests -> {COMPARISON_MD}"
    )
