"""`evaluator <dataset>`: builds the dataset's evaluator once (domain classifiers, real-data
references, baselines; what it holds is the library's choice for the dataset's kind):
`data/evaluators/<dataset>/` and `reports/evaluators/<dataset>.json`. With
`--classifier-from <other>` (the cross_evaluator stage) it is built with the evaluator of
another dataset, `data/evaluators/<other>/`: Stacked MNIST's channels are read by MNIST's
domain classifier. It runs none of the nets, losses or systems, so editing those does not
rebuild an evaluator."""

from __future__ import annotations

from pathlib import Path

import typer

from ganforge.core.errors import ConfigError
from ganforge.core.io import atomic_dir, write_json
from ganforge.data.prepared import load_prepared
from ganforge.evaluation.evaluator import build_evaluator
from ganforge.layout import EVALUATOR_REPORT_FILE, EVALUATOR_REPORTS, EVALUATORS_DIR, PREPARED_DIR
from pipeline.params import load_params
from pipeline.scoring import settings


def build(dataset: str, root: Path, classifier_from: str | None = None) -> str:
    """Build the dataset's evaluator (borrowing the evaluator of `classifier_from`); return a
    one-line summary."""
    ds = load_prepared(root / PREPARED_DIR, dataset)
    wanted = ds.meta.get("classifier_from")
    if classifier_from is not None and classifier_from != wanted:
        raise ConfigError(
            f"{dataset} is scored with {wanted}'s evaluator, not {classifier_from}'s"
            if wanted
            else f"{dataset} is scored with its own evaluator: drop --classifier-from"
        )
    borrowed = {classifier_from: root / EVALUATORS_DIR / classifier_from} if classifier_from else {}
    with atomic_dir(root / EVALUATORS_DIR / dataset) as folder:
        report = build_evaluator(
            ds,
            settings(load_params(root)),
            folder,
            log=lambda m: typer.echo(m, err=True),
            borrowed=borrowed,
        )
        write_json(folder / EVALUATOR_REPORT_FILE, report)
    write_json(root / EVALUATOR_REPORTS / f"{dataset}.json", report)
    available = [k for k, v in report["extractors"].items() if v.get("available")]
    missing = "".join(f"; {k} unavailable: {v}" for k, v in report.get("unavailable", {}).items())
    return f"evaluator {dataset}: {', '.join(available) or 'no extractor'}{missing}"
