"""`compare`: per-variant summaries over seeds and pairwise A/B tests between variants of the
same dataset, for every score: `reports/comparison.json` and `reports/comparison.md`; and the
compact metrics DVC shows (`dvc exp show`, `dvc metrics diff`): `reports/scores.json`, and beside
it `reports/scores.protocol.json`, the protocol stamp of each variant's scores."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ganforge.comparison import compare, headlines, markdown
from ganforge.core.errors import MissingDataError
from ganforge.core.io import atomic_path, write_json
from ganforge.layout import COMPARISON_JSON, COMPARISON_MD, SCORES_JSON, SCORES_PROTOCOL_JSON, metrics_path
from pipeline.params import load_params, run_seeds, run_variants


def load_results(root: Path, variants: list[str], seeds: list[int]) -> dict[str, list[dict[str, Any]]]:
    """Every seed's metrics JSON of every variant (a missing file is an error)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for variant in variants:
        out[variant] = []
        for seed in seeds:
            path = metrics_path(root, variant, seed)
            if not path.is_file():
                raise MissingDataError(f"{path} not found: run `dvc repro evaluate@{variant}`")
            out[variant].append(json.loads(path.read_text(encoding="utf-8")))
    return out


def write_comparison(root: Path) -> str:
    params = load_params(root)
    variants, seeds = run_variants(params), run_seeds(params)
    alpha = float((params.get("compare") or {}).get("alpha", 0.05))
    comparison = compare(load_results(root, list(variants), seeds), variants, seeds, alpha)
    write_json(root / COMPARISON_JSON, comparison)
    write_json(root / SCORES_JSON, headlines(comparison))
    write_json(
        root / SCORES_PROTOCOL_JSON,
        {v: stamps for entry in comparison["datasets"].values() for v, stamps in entry["protocol"].items()},
    )
    with atomic_path(root / COMPARISON_MD) as tmp:
        tmp.write_text(markdown(comparison), encoding="utf-8")
    tests = sum(
        len(b.get("pairwise", {})) for e in comparison["datasets"].values() for b in e["metrics"].values()
    )
    return (
        f"compared {sum(len(e['variants']) for e in comparison['datasets'].values())} variants on "
        f"{len(comparison['datasets'])} datasets: {tests} pairwise tests -> {COMPARISON_MD}"
    )
