"""`report`: what a person reads first, `reports/report.md` and its figures in
`reports/figures/` (built by `ganforge.report`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ganforge.core.io import atomic_dir, atomic_path
from ganforge.layout import (
    COMPARISON_JSON,
    CONFIG_DIR,
    CURVES_DIR,
    FIGURES_DIR,
    PREPARED_DIR,
    REPORT,
    REPORT_FIGURES,
    metrics_path,
)
from ganforge.published import TABLES, benchmark_of, describe_sampling, describe_setup, published_table
from ganforge.report import ReportInputs, build_report
from pipeline.params import load_params, run_seeds, run_variants


def published_sections(
    root: Path,
    meta: dict[str, dict[str, Any]],
    variants: dict[str, str],
    results: dict[str, list[dict[str, Any]]],
) -> dict[str, list[str]]:
    """For each dataset of a published mode-collapse benchmark: its variants beside the paper's rows."""
    sections = {}
    for dataset in sorted(set(variants.values())):
        table = benchmark_of(meta[dataset])
        if table is None:
            continue
        names = [v for v, d in variants.items() if d == dataset]
        setups = {
            v: describe_setup(json.loads((root / CONFIG_DIR / f"{v}.json").read_text(encoding="utf-8")))
            + describe_sampling(results[v][0].get("sampling") or {})
            for v in names
        }
        sections[dataset] = published_table(TABLES[table], {v: results[v] for v in names}, setups)
    return sections


def write_report(root: Path) -> str:
    params = load_params(root)
    variants, seeds = run_variants(params), run_seeds(params)
    results = {
        v: [json.loads(metrics_path(root, v, s).read_text(encoding="utf-8")) for s in seeds] for v in variants
    }
    meta = {
        d: json.loads((root / PREPARED_DIR / f"{d}.json").read_text(encoding="utf-8"))
        for d in sorted(set(variants.values()))
    }
    inputs = ReportInputs(
        profile=str(params.get("profile")),
        datasets=variants,
        seeds=seeds,
        comparison=json.loads((root / COMPARISON_JSON).read_text(encoding="utf-8")),
        results=results,
        dataset_meta=meta,
        curves_dir=root / CURVES_DIR,
        samples_dir=root / FIGURES_DIR,
        published=published_sections(root, meta, variants, results),
    )
    with atomic_dir(root / REPORT_FIGURES) as figures:
        text = build_report(inputs, figures)
    with atomic_path(root / REPORT) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return f"wrote {REPORT} ({len(inputs.comparison['datasets'])} datasets, {len(variants)} variants)"
