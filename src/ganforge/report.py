"""The report a person reads first: the data actually used (stand-ins flagged), then per
dataset a leaderboard with confidence intervals (and baseline rows such as translation's
identity), the A/B verdicts, scores against their own baselines, every variant's main figure
side by side, training curves, score distributions over seeds and failure-mode flags."""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ganforge.comparison import arm_values, fmt, primary_metric, protocol_lines, run_value
from ganforge.diagnostics import diagnose
from ganforge.scores import METRIC_BY_KEY, METRICS, PRIMARY, lookup
from ganforge.viz import save_curves, save_score_curves, save_side_by_side, save_strips


@dataclass(frozen=True)
class ReportInputs:
    """What the report is made from: the comparison, every run's metrics JSON, the datasets'
    metadata, and the folders of the curves and of the sample figures."""

    profile: str
    datasets: Mapping[str, str]
    """variant -> dataset."""
    seeds: Sequence[int]
    comparison: Mapping[str, Any]
    results: Mapping[str, Sequence[Mapping[str, Any]]]
    dataset_meta: Mapping[str, Mapping[str, Any]]
    curves_dir: Path
    samples_dir: Path
    published: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """dataset -> Markdown of its variants beside a paper's published table (`ganforge.published`)."""


def machine_lines(results: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[str]:
    """Which machine made the runs: CPU (GPU), torch version and training precision, one
    line per distinct machine (scores made on other CPUs or precisions differ in their bits,
    and GAN training turns those into other scores)."""
    made: dict[tuple[str, str, str], list[str]] = {}
    for variant, runs in results.items():
        for run in runs:
            training = run.get("training") or {}
            info = training.get("machine") or {}
            where = info.get("gpu") or info.get("cpu") or "an unrecorded machine"
            key = (where, str(info.get("torch", "?")), str(training.get("precision") or "?"))
            made.setdefault(key, []).append(variant)
    if len(made) == 1:
        (where, torch_version, precision), _ = made.popitem()
        return [f"Made on {where} with torch {torch_version}, training in {precision}."]
    return ["Made on several machines (their scores differ in their bits, not only in their seeds):", ""] + [
        f"- {where}, torch {torch_version}, training in {precision}: {', '.join(sorted(set(variants)))}"
        for (where, torch_version, precision), variants in sorted(made.items())
    ]


SAMPLING_MODES = {
    "eval": "eval mode (dropout off, batch norm's running statistics)",
    "train": "train mode (dropout on, each batch's own statistics)",
}


def sampling_lines(names: Sequence[str], results: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[str]:
    """For translation variants: the mode their generators translated in for these scores
    (it can move a Fréchet distance by a factor of 2 or more)."""
    modes = {
        name: (runs[0].get("sampling") or {}).get("mode")
        for name in names
        if (runs := results.get(name)) and (runs[0].get("sampling") or {}).get("mode")
    }
    if not modes:
        return []
    said = "; ".join(f"`{name}` in {SAMPLING_MODES.get(mode, mode)}" for name, mode in modes.items())
    return [f"Translations scored as sampled: {said}.", ""]


def read_curves(path: Path) -> dict[str, list[float]]:
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return {k: [float(r[k]) for r in rows if r.get(k) not in (None, "")] for k in (rows[0] if rows else {})}


def _with_ci(s: Mapping[str, Any]) -> str:
    return f"{fmt(s['mean'])} [{fmt(s['ci_low'])}, {fmt(s['ci_high'])}]"


def headline_keys(entry: Mapping[str, Any], primary: str | None) -> list[str]:
    return [m.key for m in METRICS if m.headline and m.key in entry["metrics"] and m.key != primary]


def leaderboard(entry: Mapping[str, Any]) -> pd.DataFrame:
    """Variants ranked by the dataset's primary score of their EMA generator, with its
    interval and the raw generator's beside it, and the headline scores; baseline rows
    (e.g. identity) at the end."""
    key = primary_metric(entry)
    if key is None:
        return pd.DataFrame()
    block = entry["metrics"][key]
    others = headline_keys(entry, key)
    rows = []
    raw_label = f"{block['label']}, raw generator"
    for variant, s in block["summary"].items():
        row = {"variant": variant, "checkpoint": "final", "n": s["n"]}
        row[f"{block['label']}, EMA (mean, 95% CI)"] = _with_ci(s)
        raw = block.get("summary_raw", {}).get(variant)
        row[raw_label] = (
            _with_ci(raw) if raw is not None and entry.get("generators", {}).get(variant) == "ema" else "–"
        )
        for other in others:
            o = entry["metrics"][other]["summary"].get(variant)
            row[entry["metrics"][other]["label"]] = fmt(o["mean"]) if o else "–"
        rows.append((s["mean"], row, best_row(entry, variant, key, others, row)))
    rows.sort(key=lambda r: r[0], reverse=bool(block["higher_is_better"]))
    ranked = []
    for i, (_, row, best) in enumerate(rows):
        ranked.append({"rank": str(i + 1), **row})
        if best is not None:
            ranked.append(best)
    for name, scores in entry.get("baselines", {}).items():
        row = {"rank": "–", "variant": f"*{name}* (baseline)", "checkpoint": "–", "n": "–"}
        row[f"{block['label']}, EMA (mean, 95% CI)"] = fmt(lookup(scores, key))
        row[raw_label] = "–"
        for other in others:
            row[entry["metrics"][other]["label"]] = fmt(lookup(scores, other))
        ranked.append(row)
    return pd.DataFrame(ranked)


def best_row(
    entry: Mapping[str, Any], variant: str, key: str, others: list[str], final: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The leaderboard row of a variant's best checkpoints (None where training kept none):
    the same columns as its final row, scores of the copy the final row shows."""
    block = entry["metrics"][key]
    best = block.get("summary_best", {}).get(variant)
    if best is None:
        return None
    steps = entry.get("best_steps", {}).get(variant, [])
    row = {k: "–" for k in final}
    row.update({"rank": "", "variant": variant, "checkpoint": f"best (steps {'/'.join(map(str, steps))})"})
    row["n"] = best["n"]
    row[f"{block['label']}, EMA (mean, 95% CI)"] = _with_ci(best)
    for other in others:
        o = entry["metrics"][other].get("summary_best", {}).get(variant)
        row[entry["metrics"][other]["label"]] = fmt(o["mean"]) if o else "–"
    return row


def best_lines(entry: Mapping[str, Any]) -> list[str]:
    """What the best rows are, and for which variants best and final differ (by the primary
    score's interval: their means outside each other's 95% CI)."""
    key = primary_metric(entry)
    if key is None or not entry["metrics"][key].get("summary_best"):
        return []
    block = entry["metrics"][key]
    differ = []
    for variant, best in block["summary_best"].items():
        final = block["summary"].get(variant)
        if final is None or best["ci_low"] is None or final["ci_low"] is None:
            continue
        apart = not (best["ci_low"] <= final["mean"] <= best["ci_high"]) and not (
            final["ci_low"] <= best["mean"] <= final["ci_high"]
        )
        if apart:
            better = (best["mean"] > final["mean"]) == bool(block["higher_is_better"])
            winner = "best" if better else "final"
            differ.append(f"`{variant}` ({winner} better: {fmt(best['mean'])} vs {fmt(final['mean'])})")
    lines = [
        "*best*: each seed's generators at the step where the validation score "
        f"({block['label']}) was best; they are selected on the validation sample, drawn from latents "
        "of their own, and scored here on the test sample like the final ones.",
    ]
    if differ:
        lines.append(f"Best and final differ beyond their intervals for {', '.join(differ)}.")
    else:
        lines.append("Best and final agree within their intervals for every variant here.")
    return [" ".join(lines), ""]


def verdicts(entry: Mapping[str, Any]) -> pd.DataFrame:
    key = primary_metric(entry)
    pairs = entry["metrics"].get(key, {}).get("pairwise", {}) if key else {}
    return pd.DataFrame(
        [
            {
                "A vs B": name,
                "P(A better)": fmt(c["prob_improvement"]),
                "Welch p (Holm)": fmt(c["welch_p_holm"]),
                "verdict": c["verdict"],
                "note": c["power_note"],
            }
            for name, c in pairs.items()
        ]
    )


def against_baselines(
    entry: Mapping[str, Any], results: Mapping[str, Sequence[Mapping[str, Any]]]
) -> list[str]:
    """Scores that have their own per-run baseline (the semi-supervised discriminator against
    the same network trained on the labels alone): both, and on how many seeds each wins."""
    lines: list[str] = []
    for key, block in entry["metrics"].items():
        metric = METRIC_BY_KEY[key]
        if metric.baseline is None or metric.baseline not in entry["metrics"]:
            continue
        base = entry["metrics"][metric.baseline]
        rows = []
        for variant, s in block["summary"].items():
            runs = results.get(variant, [])
            pairs = [(run_value(r, "ema", key), run_value(r, "ema", metric.baseline)) for r in runs]
            pairs = [(a, b) for a, b in pairs if a is not None and b is not None]
            better = sum((a > b) == bool(metric.higher_is_better) and a != b for a, b in pairs)
            rows.append(
                {
                    "variant": variant,
                    "n": s["n"],
                    f"{block['label']} (mean, 95% CI)": _with_ci(s),
                    f"{base['label']}": _with_ci(base["summary"][variant]),
                    "seeds where it beats its baseline": f"{better} of {len(pairs)}",
                }
            )
        lines += [
            f"### {block['label']} against its baseline",
            "",
            pd.DataFrame(rows).to_markdown(index=False),
            "",
        ]
    return lines


def _dataset_rows(meta: Mapping[str, Mapping[str, Any]]) -> tuple[pd.DataFrame, list[str]]:
    rows, banners = [], []
    for name, m in meta.items():
        shapes = {
            k: "×".join(map(str, v["shape"][1:]))
            for k, v in m.get("tensors", {}).items()
            if not k.startswith(("labels", "heldout"))
        }
        rows.append(
            {
                "dataset": name,
                "source": m.get("source", ""),
                "examples": m.get("examples"),
                "shape": ", ".join(f"{k} {v}" for k, v in shapes.items()),
                "classes": len(m.get("class_names", [])),
                "stand-in": "yes" if m.get("stand_in") else "no",
            }
        )
        if m.get("stand_in"):
            banners.append(
                f"> **Stand-in data.** `{name}` replaces `{m.get('stand_in_for')}`, which could not be "
                f"fetched on this machine. Every result below made from it is about `{name}`, not "
                f"`{m.get('stand_in_for')}`."
            )
    return pd.DataFrame(rows), banners


def build_report(inputs: ReportInputs, figures: Path) -> str:
    """The report's Markdown; its figures are written into `figures` (linked as figures/...)."""
    variants, seeds, comparison = inputs.datasets, list(inputs.seeds), inputs.comparison
    data_table, banners = _dataset_rows(inputs.dataset_meta)
    lines = [
        f"# ganforge report ({inputs.profile} profile)",
        "",
        f"{len(variants)} variants × {len(seeds)} seeds {seeds}; scores of the EMA generator unless said. "
        f"Statistics and every pairwise test: [comparison.md](comparison.md); every score of every run: "
        f"`reports/metrics/<variant>/<seed>.json`.",
        "",
        *machine_lines(inputs.results),
        "",
        *banners,
        "",
        "## Data used",
        "",
        data_table.to_markdown(index=False),
        "",
    ]
    for dataset, entry in comparison["datasets"].items():
        names = entry["variants"]
        lines += [f"## {dataset}", ""]
        if entry.get("stand_in"):
            lines += [f"> Stand-in: `{dataset}` (for `{entry.get('stand_in_for')}`).", ""]
        board = leaderboard(entry)
        if not board.empty:
            lines += ["### Leaderboard", "", board.to_markdown(index=False), "", *best_lines(entry)]
        table = verdicts(entry)
        if not table.empty:
            label = entry["metrics"][primary_metric(entry)]["label"]
            lines += [f"### A/B verdicts ({label})", "", table.to_markdown(index=False), ""]
        lines += protocol_lines(entry)
        lines += sampling_lines(names, inputs.results)
        lines += against_baselines(entry, inputs.results)
        lines += list(inputs.published.get(dataset, []))
        lines += _figures(inputs, figures, dataset, names, entry, seeds)
        lines += _diagnostics(inputs, names, seeds)
    return "\n".join(lines) + "\n"


def _main_figure(folder: Path) -> Path | None:
    index = folder / "figures.json"
    if not index.is_file():
        return None
    path = folder / json.loads(index.read_text(encoding="utf-8"))["main"]
    return path if path.is_file() else None


def _figures(
    inputs: ReportInputs,
    figures: Path,
    dataset: str,
    names: list[str],
    entry: Mapping[str, Any],
    seeds: list[int],
) -> list[str]:
    lines = ["### Samples", ""]
    seed = seeds[0]
    panels = [(v, p) for v in names if (p := _main_figure(inputs.samples_dir / v / str(seed))) is not None]
    if panels:
        grid = save_side_by_side(
            panels,
            figures / f"samples_{dataset}.png",
            f"{dataset}: seed {seed}, the same inputs for every variant",
        )
        lines += [f"![samples of {dataset}](figures/{grid.name})", ""]
    curves = {v: [read_curves(inputs.curves_dir / v / f"{s}.csv") for s in seeds] for v in names}
    plot = save_curves(curves, figures / f"curves_{dataset}.png", f"{dataset}: training curves")
    lines += ["### Training curves", "", f"![curves of {dataset}](figures/{plot.name})", ""]
    lines += _score_curves(inputs, figures, dataset, names, seeds)
    shown = [m for m in METRICS if m.key in entry["metrics"] and m.higher_is_better is not None][:3]
    if shown:
        values = {m.label: {v: arm_values(inputs.results[v], "ema", m.key) for v in names} for m in shown}
        strips = save_strips(values, figures / f"scores_{dataset}.png", f"{dataset}: scores over seeds")
        lines += ["### Scores over seeds", "", f"![scores of {dataset}](figures/{strips.name})", ""]
    return lines


def score_series(path: Path, key: str) -> tuple[list[float], list[float]]:
    """(steps, values) of one `score.*` column of a curves CSV (the rows that have it)."""
    with path.open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get(key) not in (None, "")]
    return [float(r["step"]) for r in rows], [float(r[key]) for r in rows]


def _score_curves(
    inputs: ReportInputs, figures: Path, dataset: str, names: list[str], seeds: list[int]
) -> list[str]:
    """The validation score against step of every variant scored during training."""
    paths = {v: [inputs.curves_dir / v / f"{s}.csv" for s in seeds] for v in names}
    header = set()
    for files in paths.values():
        if files and files[0].is_file():
            with files[0].open(encoding="utf-8") as fh:
                header |= set(next(csv.reader(fh), []))
    key = next((k for k in PRIMARY if f"score.{k}" in header), None)
    if key is None:
        return []
    column = f"score.{key}"
    curves = {v: [score_series(f, column) for f in files if f.is_file()] for v, files in paths.items()}
    curves = {v: runs for v, runs in curves.items() if any(steps for steps, _ in runs)}
    label = METRIC_BY_KEY[key].label
    plot = save_score_curves(
        curves, figures / f"validation_{dataset}.png", f"{dataset}: {label} on the validation sample", label
    )
    return [
        "### Scores during training",
        "",
        f"{label} of the EMA generator on each run's validation sample (its own latents, never the test "
        f"sample's), every `train.eval_every` steps; the best checkpoint is the step where it was best.",
        "",
        f"![validation scores of {dataset}](figures/{plot.name})",
        "",
    ]


def _diagnostics(inputs: ReportInputs, names: list[str], seeds: list[int]) -> list[str]:
    rows = []
    for v in names:
        for seed, result in zip(seeds, inputs.results[v], strict=True):
            scores = result["generators"].get("ema") or result["generators"]["raw"]
            probabilities = bool(result.get("training", {}).get("d_probabilities", True))
            curves = read_curves(inputs.curves_dir / v / f"{seed}.csv")
            flags = diagnose(curves, scores, probabilities)
            rows += [{"variant": v, "seed": seed, "flag": f.kind, "evidence": f.message} for f in flags]
    lines = ["### Training diagnostics", ""]
    if rows:
        lines += [pd.DataFrame(rows).to_markdown(index=False), ""]
    else:
        lines += ["No failure mode flagged (discriminator overpowering, non-convergence, mode collapse).", ""]
    return lines
