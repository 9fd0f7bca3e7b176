"""The metrics record of one (variant, seed): `reports/metrics/<variant>/<seed>.json`, what
comparison, the report, the MLflow mirror and serving read. Its one home: the evaluate stage
only calls `metrics_record`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ganforge.protocol import stamps
from ganforge.sampling import SampleConfig
from ganforge.variants import Variant

TRAINING_KEYS = ("steps", "seconds", "precision", "machine", "d_probabilities", "validation")
"""What the record carries over from the run's train.json."""


def metrics_record(
    variant: Variant,
    seed: int,
    evaluator_report: Mapping[str, Any],
    sampling: Mapping[str, Any],
    scores: Mapping[str, Any],
    baselines: Mapping[str, Any],
    training: Mapping[str, Any],
) -> dict[str, Any]:
    """The record: who (variant, seed, system, dataset and its stand-in flag, profile), how
    the samples were drawn, which extractors scored them (from the evaluator's report), the
    protocol stamp of every generator's scores per extractor (`ganforge.protocol`), the
    evaluator's scores (`{"generators": {...}, "real_samples": n, ...}`), the reference rows,
    what training recorded, and the system's run-level scores (top-level keys)."""
    return {
        "variant": variant.name,
        "seed": seed,
        "system": variant.kind,
        "dataset": variant.dataset,
        "stand_in": evaluator_report["stand_in"],
        "stand_in_for": evaluator_report["stand_in_for"],
        "profile": variant.profile,
        "sampling": dict(sampling),
        "extractors": evaluator_report["extractors"],
        "protocol": stamps(
            evaluator_report["extractors"], evaluator_report.get("reference"), scores, sampling
        ),
        **scores,
        "baselines": dict(baselines),
        "training": {k: training.get(k) for k in TRAINING_KEYS},
        **training.get("run_scores", {}),
    }


def sampling_record(
    cfg: SampleConfig, payload: dict[str, Any], best: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """How the evaluation samples were drawn: the Jacobian truncation kept, for translations
    the mode the generators ran in (eval or train), and which step's generators the "best"
    ones are (`best`: selected on the validation sample, never on these)."""
    record: dict[str, Any] = {"jacobian_keep": cfg.jacobian_keep}
    if "sampling" in payload:
        record["mode"] = payload["sampling"]
    if best is not None:
        record["best"] = dict(best)
    return record


def headline(result: dict[str, Any]) -> str:
    """The main numbers of a seed's result, for the log."""
    from ganforge.scores import METRICS, lookup

    which = "ema" if "ema" in result["generators"] else "raw"
    scores = result["generators"][which]
    shown = [(m.label, v) for m in METRICS if m.headline and (v := lookup(scores, m.key)) is not None]
    return f"{which}: " + ", ".join(f"{label} {value:.4g}" for label, value in shown[:4])
