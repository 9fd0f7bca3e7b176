"""`report`: what a person reads first, `reports/report.md` and its figures in
`reports/figures/`: the data actually used (stand-ins flagged), a leaderboard per dataset
with confidence intervals, the A/B verdicts, sample grids side by side, training curves,
score distributions over seeds and failure-mode flags."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pandas as pd

from ganforge.diagnostics import diagnose
from ganforge.io import atomic_dir, atomic_path
from ganforge.losses import get_loss
from ganforge.viz import save_curves, save_side_by_side, save_strips
from pipeline.compare import COMPARISON_JSON, METRICS, PRIMARY, arm_values, load_results
from pipeline.params import load_params
from pipeline.prepare import PREPARED_DIR
from pipeline.sample import FIGURES_DIR
from pipeline.train import CURVES_DIR
from pipeline.variants import load_resolved

REPORT = Path("reports/report.md")
REPORT_FIGURES = Path("reports/figures")
LEADERBOARD_COLUMNS = 4  # scores shown beside the primary one


def read_curves(path: Path) -> dict[str, list[float]]:
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return {k: [float(r[k]) for r in rows if r.get(k) not in (None, "")] for k in (rows[0] if rows else {})}


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.4g}"


def _with_ci(s: dict[str, Any]) -> str:
    return f"{_fmt(s['mean'])} [{_fmt(s['ci_low'])}, {_fmt(s['ci_high'])}]"


def primary_metric(entry: dict[str, Any]) -> str | None:
    return next((k for k in PRIMARY if k in entry["metrics"]), None)


def leaderboard(entry: dict[str, Any]) -> pd.DataFrame:
    """Variants ranked by the dataset's primary score, with their interval and other scores."""
    key = primary_metric(entry)
    if key is None:
        return pd.DataFrame()
    block = entry["metrics"][key]
    others = [m.key for m in METRICS if m.key in entry["metrics"] and m.key != key][:LEADERBOARD_COLUMNS]
    rows = []
    for variant, s in block["summary"].items():
        row = {
            "variant": variant,
            "n": s["n"],
            f"{block['label']} (mean, 95% CI)": _with_ci(s),
        }
        for other in others:
            o = entry["metrics"][other]["summary"].get(variant)
            row[entry["metrics"][other]["label"]] = _fmt(o["mean"]) if o else "–"
        rows.append((s["mean"], row))
    rows.sort(key=lambda r: r[0], reverse=bool(block["higher_is_better"]))
    ranked = [{"rank": i + 1, **row} for i, (_, row) in enumerate(rows)]
    return pd.DataFrame(ranked)


def verdicts(entry: dict[str, Any]) -> pd.DataFrame:
    key = primary_metric(entry)
    pairs = entry["metrics"].get(key, {}).get("pairwise", {}) if key else {}
    return pd.DataFrame(
        [
            {
                "A vs B": name,
                "P(A better)": _fmt(c["prob_improvement"]),
                "Welch p (Holm)": _fmt(c["welch_p_holm"]),
                "verdict": c["verdict"],
                "note": c["power_note"],
            }
            for name, c in pairs.items()
        ]
    )


def _dataset_rows(root: Path, datasets: list[str]) -> tuple[pd.DataFrame, list[str]]:
    rows, banners = [], []
    for name in datasets:
        meta = json.loads((root / PREPARED_DIR / f"{name}.json").read_text(encoding="utf-8"))
        shapes = {
            k: "×".join(map(str, v["shape"][1:]))
            for k, v in meta.get("tensors", {}).items()
            if not k.startswith("labels")
        }
        rows.append(
            {
                "dataset": name,
                "source": meta.get("source", ""),
                "examples": meta.get("examples"),
                "shape": ", ".join(f"{k} {v}" for k, v in shapes.items()),
                "classes": len(meta.get("class_names", [])),
                "stand-in": "yes" if meta.get("stand_in") else "no",
            }
        )
        if meta.get("stand_in"):
            banners.append(
                f"> **Stand-in data.** `{name}` replaces `{meta.get('stand_in_for')}`, which could not be "
                f"fetched on this machine. Every result below made from it is about `{name}`, not "
                f"`{meta.get('stand_in_for')}`."
            )
    return pd.DataFrame(rows), banners


def build_report(root: Path) -> str:
    params = load_params(root)
    run = params.get("run") or {}
    variants = dict(run.get("variants") or {})
    seeds = [int(s) for s in run.get("seeds", [])]
    comparison = json.loads((root / COMPARISON_JSON).read_text(encoding="utf-8"))
    results = load_results(root, list(variants), seeds)
    data_table, banners = _dataset_rows(root, sorted(set(variants.values())))
    lines = [
        f"# ganforge report ({params.get('profile')} profile)",
        "",
        f"{len(variants)} variants × {len(seeds)} seeds {seeds}; scores of the EMA generator unless said. "
        f"Statistics and every pairwise test: [comparison.md](comparison.md); every score of every run: "
        f"`dvc metrics show`.",
        "",
        *banners,
        "",
        "## Data used",
        "",
        data_table.to_markdown(index=False),
        "",
    ]
    with atomic_dir(root / REPORT_FIGURES) as figures:
        for dataset, entry in comparison["datasets"].items():
            names = entry["variants"]
            lines += [f"## {dataset}", ""]
            if entry.get("stand_in"):
                lines += [f"> Stand-in: `{dataset}` (for `{entry.get('stand_in_for')}`).", ""]
            board = leaderboard(entry)
            if not board.empty:
                lines += ["### Leaderboard", "", board.to_markdown(index=False), ""]
            table = verdicts(entry)
            if not table.empty:
                lines += [
                    f"### A/B verdicts ({entry['metrics'][primary_metric(entry)]['label']})",
                    "",
                    table.to_markdown(index=False),
                    "",
                ]
            lines += _semi_supervised(entry, results)
            lines += _figures(root, figures, dataset, names, entry, results, seeds)
            lines += _diagnostics(root, names, results, seeds)
    with atomic_path(root / REPORT) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return f"wrote {REPORT} ({len(comparison['datasets'])} datasets, {len(variants)} variants)"


def _semi_supervised(entry: dict[str, Any], results: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The semi-supervised discriminators' test error next to their same-label baselines."""
    errors = entry["metrics"].get("semi_supervised.test_error")
    baselines = entry["metrics"].get("semi_supervised.baseline_test_error")
    if not errors or not baselines:
        return []
    rows = []
    for variant, s in errors["summary"].items():
        runs = [r["semi_supervised"] for r in results.get(variant, []) if "semi_supervised" in r]
        pairs = [(r["test_error"], r["baseline_test_error"]) for r in runs]
        rows.append(
            {
                "variant": variant,
                "labels": runs[0]["labelled"] if runs else None,
                "n": s["n"],
                "test error (mean, 95% CI)": _with_ci(s),
                "baseline test error": _with_ci(baselines["summary"][variant]),
                "seeds where the GAN wins": f"{sum(e < b for e, b in pairs)} of {len(pairs)}",
            }
        )
    return [
        "### Semi-supervised classification",
        "",
        "Test-set error of the (K+1)-class discriminator, and of the same network trained as a plain "
        "classifier on the same labels (per seed: same labelled examples, same held-out test set).",
        "",
        pd.DataFrame(rows).to_markdown(index=False),
        "",
    ]


def _figures(
    root: Path,
    figures: Path,
    dataset: str,
    names: list[str],
    entry: dict[str, Any],
    results: dict[str, list[dict[str, Any]]],
    seeds: list[int],
) -> list[str]:
    lines = ["### Samples", ""]
    seed = seeds[0]
    panels = []
    for v in names:
        folder = root / FIGURES_DIR / v / str(seed)
        image = next((folder / n for n in ("grid.png", "points.png") if (folder / n).is_file()), None)
        if image is not None:
            panels.append((v, image))
    if panels:
        grid = save_side_by_side(
            panels,
            figures / f"samples_{dataset}.png",
            f"{dataset}: seed {seed}, the same latent batch for every variant",
        )
        lines += [f"![samples of {dataset}](figures/{grid.name})", ""]
    curves = {v: [read_curves(root / CURVES_DIR / v / f"{s}.csv") for s in seeds] for v in names}
    plot = save_curves(curves, figures / f"curves_{dataset}.png", f"{dataset}: training curves")
    lines += ["### Training curves", "", f"![curves of {dataset}](figures/{plot.name})", ""]
    shown = [m for m in METRICS if m.key in entry["metrics"] and m.higher_is_better is not None][:3]
    if shown:
        values = {m.label: {v: arm_values(results[v], "ema", m.key) for v in names} for m in shown}
        strips = save_strips(values, figures / f"scores_{dataset}.png", f"{dataset}: scores over seeds")
        lines += ["### Scores over seeds", "", f"![scores of {dataset}](figures/{strips.name})", ""]
    return lines


def _diagnostics(
    root: Path, names: list[str], results: dict[str, list[dict[str, Any]]], seeds: list[int]
) -> list[str]:
    rows = []
    for v in names:
        probabilities = get_loss(load_resolved(root, v).train.loss).probabilities
        for seed, result in zip(seeds, results[v], strict=True):
            scores = result["generators"].get("ema") or result["generators"]["raw"]
            flags = diagnose(read_curves(root / CURVES_DIR / v / f"{seed}.csv"), scores, probabilities)
            rows += [{"variant": v, "seed": seed, "flag": f.kind, "evidence": f.message} for f in flags]
    lines = ["### Training diagnostics", ""]
    if rows:
        lines += [pd.DataFrame(rows).to_markdown(index=False), ""]
    else:
        lines += ["No failure mode flagged (discriminator overpowering, non-convergence, mode collapse).", ""]
    return lines
