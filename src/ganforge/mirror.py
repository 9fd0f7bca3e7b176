"""Keeping MLflow in step with what DVC holds. For every (variant, seed) of a profile there is
one MLflow run, found by its tags (the run's fingerprint and the DVC experiment it belongs
to, so retrains and queued experiments do not collide), with the resolved params, the curves
as step-wise metrics, the final scores, the figures and the generator; and one `comparison`
run with the summary tables. A training run starts and ends when its training did (from its
train.json) and names its dataset as an MLflow dataset input. Each run carries a digest of
what it mirrors: a run whose digest matches is left alone (running the mirror twice changes
nothing; in the workspace, a run an experiment already mirrored with the same digest counts
too), a missing one is created (after `dvc pull`, in a fresh clone, or when DVC skipped a
stage), a stale one is replaced, and a run that training logged live is completed. MLflow
itself is reached through `ganforge.tracking`."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ganforge.core.io import sha256_file, unix_ms
from ganforge.protocol import flat_tags
from ganforge.tracking import DatasetRecord, Tracker, numeric_leaves

RECORD_TAG = "ganforge_record"  # "run" or "comparison"
DIGEST_TAG = "ganforge_digest"
LIVE_TAG = "ganforge_live"  # set by a training run that logs to MLflow as it goes
FINGERPRINT_TAG = "fingerprint"
EXPERIMENT_TAG = "dvc_experiment"
WORKSPACE = "workspace"  # the DVC experiment name of a plain `dvc repro`
VOLATILE_TAGS = ("git_commit",)  # descriptive: a new commit alone does not make a run stale


class Store(Protocol):
    """What the mirror needs of a tracking store (`tracking.MlflowStore`)."""

    def runs(self) -> Sequence[Any]: ...

    def tracker(
        self, run_name: str, tags: Mapping[str, str], run_id: str | None = None, start_ms: int | None = None
    ) -> Tracker: ...

    def delete(self, run_id: str) -> None: ...


@dataclass
class Mirrored:
    """One MLflow run as the artifacts say it should be."""

    record: str
    key: str
    """The fingerprint of a training run; the record name for a comparison."""
    name: str
    tags: dict[str, str]
    params: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    step: int = 0
    curves: Path | None = None
    artifacts: list[tuple[Path, str]] = field(default_factory=list)
    start_ms: int | None = None
    """When the work it records began and ended (Unix ms; None: when the mirror writes it)."""
    end_ms: int | None = None
    dataset: DatasetRecord | None = None

    def identity(self) -> tuple[str, str, str]:
        return (self.record, self.key, self.tags.get(EXPERIMENT_TAG, WORKSPACE))

    def _times_and_data(self) -> list[Any]:
        return [self.start_ms, self.end_ms, self.dataset]

    def digest(self) -> str:
        stable = {k: v for k, v in self.tags.items() if k not in VOLATILE_TAGS}
        h = hashlib.sha256()
        h.update(
            json.dumps(
                [self.name, stable, self.params, self.scores, self.step, *self._times_and_data()],
                sort_keys=True,
                default=str,
            ).encode()
        )
        if self.curves is not None:
            h.update(self.curves.read_bytes())
        for path, folder in self.artifacts:
            h.update(f"{folder}/{path.name}:{sha256_file(path)}".encode())
        return h.hexdigest()


@dataclass
class MirrorReport:
    created: int = 0
    completed: int = 0
    replaced: int = 0
    unchanged: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        return (
            f"MLflow in step with the artifacts: {self.created} runs created, {self.completed} completed, "
            f"{self.replaced} replaced, {self.unchanged} unchanged ({self.seconds:.1f} s)"
        )


def curve_rows(path: Path) -> list[dict[str, float]]:
    """The rows of a curves CSV as numbers."""
    import csv

    with path.open(encoding="utf-8") as fh:
        return [{k: float(v) for k, v in row.items() if v not in (None, "")} for row in csv.DictReader(fh)]


def _log(tracker: Tracker, run: Mirrored, digest: str, with_curves: bool) -> None:
    tracker.set_tags({**run.tags, RECORD_TAG: run.record, DIGEST_TAG: digest})
    if run.params:
        tracker.log_params(run.params)
    if with_curves and run.curves is not None:
        for row in curve_rows(run.curves):
            tracker.log_metrics({k: v for k, v in row.items() if k != "step"}, int(row["step"]))
    if run.scores:
        tracker.log_metrics(run.scores, run.step)
    if run.dataset is not None:
        tracker.log_dataset(run.dataset)
    for path, folder in run.artifacts:
        tracker.log_artifact(path, folder)
    tracker.close(end_ms=run.end_ms)


def mirror(store: Store, wanted: Sequence[Mirrored]) -> MirrorReport:
    """Make the store hold exactly one up-to-date run for each of `wanted`."""
    start = time.perf_counter()
    report = MirrorReport()
    existing: dict[tuple[str, str, str], Any] = {}
    digests: set[tuple[str, str, str]] = set()
    for run in store.runs():
        tags = run.tags
        if RECORD_TAG in tags or LIVE_TAG in tags:
            record = tags.get(RECORD_TAG, "run")
            key = tags.get(FINGERPRINT_TAG, "") if record == "run" else record
            existing.setdefault((record, key, tags.get(EXPERIMENT_TAG, WORKSPACE)), run)
            digests.add((record, key, tags.get(DIGEST_TAG, "")))
    for run in wanted:
        digest = run.digest()
        found = existing.get(run.identity())
        if found is not None and found.tags.get(DIGEST_TAG) == digest:
            report.unchanged += 1
            continue
        if found is None and run.identity()[2] == WORKSPACE and (run.record, run.key, digest) in digests:
            report.unchanged += 1  # the workspace holds an experiment's results: already mirrored
            continue
        if found is not None and found.tags.get(LIVE_TAG) == "true" and DIGEST_TAG not in found.tags:
            _log(store.tracker(run.name, {}, found.run_id), run, digest, with_curves=False)
            report.completed += 1
            continue
        if found is not None:
            store.delete(found.run_id)
            report.replaced += 1
        else:
            report.created += 1
        tracker = store.tracker(run.name, {**run.tags, RECORD_TAG: run.record}, start_ms=run.start_ms)
        _log(tracker, run, digest, with_curves=True)
    report.seconds = time.perf_counter() - start
    return report


def common_tags(profile: str, git_commit: str, experiment: str | None) -> dict[str, str]:
    """The tags every run of a pipeline run shares: its profile, the git commit, and the DVC
    experiment (`experiment`, from DVC_EXP_NAME; the workspace when None)."""
    return {"profile": profile, "git_commit": git_commit, EXPERIMENT_TAG: experiment or WORKSPACE}


def run_tags(
    variant: str, system: str, dataset: str, seed: int, stand_in: bool, common: Mapping[str, str]
) -> dict[str, str]:
    """The tags of one (variant, seed) run, whether training logs it live or the mirror
    writes it; `common` holds the profile, the git commit and the DVC experiment."""
    return {
        **common,
        "variant": variant,
        "system": system,
        "dataset": dataset,
        "seed": str(seed),
        "stand_in": str(stand_in),
    }


def dataset_record(meta: Mapping[str, Any], prepared: str) -> DatasetRecord:
    """The dataset input of a run, from its prepared dataset's meta (`prepared` names the
    prepared file, relative to the project)."""
    fingerprint = str(meta["data_sha256"])
    profile = {
        "data_sha256": fingerprint,
        "examples": meta.get("examples"),
        "kind": meta.get("kind"),
        "stand_in": bool(meta.get("stand_in")),
    }
    if meta.get("stand_in_for"):
        profile["stand_in_for"] = meta["stand_in_for"]
    for key in ("split", "derived_from", "image_size"):
        if meta.get(key) is not None:
            profile[key] = meta[key]
    tensors = meta.get("tensors") or {}
    return DatasetRecord(
        name=str(meta["dataset"]),
        digest=fingerprint[:16],
        source={"prepared": prepared, "origin": meta.get("source", "")},
        schema={name: f"{t['dtype']}{list(t['shape'])}" for name, t in tensors.items()},
        profile=profile,
    )


def training_record(
    variant: Mapping[str, Any],
    training: Mapping[str, Any],
    metrics: Mapping[str, Any],
    curves: Path,
    artifacts: list[tuple[Path, str]],
    tags: Mapping[str, str],
    dataset: DatasetRecord | None = None,
) -> Mirrored:
    """The MLflow run of one (variant, seed): `variant` is its resolved config (JSON),
    `training` its train.json, `metrics` its metrics JSON, `dataset` what it trained on. The
    run spans the training's own start and end (train.json's `started` and `finished`)."""
    seed = int(training["seed"])
    scores = {
        **numeric_leaves(metrics.get("generators", {}), "score."),
        **numeric_leaves(training.get("run_scores", {}), "score."),
    }
    return Mirrored(
        record="run",
        key=str(training["fingerprint"]),
        name=f"{variant['name']}-{seed}",
        tags={
            **tags,
            **protocol_tags(metrics),
            **training_tags(training),
            FINGERPRINT_TAG: str(training["fingerprint"]),
        },
        params={**variant, "seed": seed},
        scores=scores,
        step=int(training.get("steps") or 0),
        curves=curves,
        artifacts=artifacts,
        start_ms=unix_ms(training["started"]) if training.get("started") else None,
        end_ms=unix_ms(training["finished"]) if training.get("finished") else None,
        dataset=dataset,
    )


def training_tags(training: Mapping[str, Any]) -> dict[str, str]:
    """What training said of itself: the best validation step, an early stop and why, and the
    failure modes flagged as they happened."""
    out: dict[str, str] = {}
    validation = training.get("validation") or {}
    if validation.get("best", {}).get("step") is not None:
        best = validation["best"]
        out["best_checkpoint"] = f"step {best['step']}: {validation.get('selects')} {best['value']:.6g}"
    if validation.get("stopped"):
        out["stopped_early"] = f"step {validation['stopped']['step']}: {validation['stopped']['reason']}"
    if training.get("warnings"):
        out["warnings"] = "; ".join(
            f"step {w['step']}: {w['kind']} ({w['message']})" for w in training["warnings"]
        )
    return out


def protocol_tags(metrics: Mapping[str, Any]) -> dict[str, str]:
    """The protocol stamp of every generator's scores, per extractor, as tags
    (`protocol.<generator>.<extractor>.<field>`): how each `score.*` was computed."""
    out: dict[str, str] = {}
    for generator, by_extractor in (metrics.get("protocol") or {}).items():
        for extractor, stamp in by_extractor.items():
            out.update(flat_tags(stamp, f"protocol.{generator}.{extractor}"))
    return out


def comparison_record(
    comparison: Mapping[str, Any], artifacts: list[tuple[Path, str]], tags: Mapping[str, str]
) -> Mirrored:
    """The `comparison` run: every variant's mean and interval of each summarised score as
    metrics (`<variant>.<score>.mean`), the tables and the report as artifacts."""
    scores: dict[str, float] = {}
    for entry in comparison.get("datasets", {}).values():
        for key, block in entry.get("metrics", {}).items():
            for variant, summary in block.get("summary", {}).items():
                for stat in ("mean", "ci_low", "ci_high"):
                    if isinstance(summary.get(stat), (int, float)):
                        scores[f"{variant}.{key}.{stat}"] = float(summary[stat])
    params = {"seeds": comparison.get("seeds"), "alpha": comparison.get("alpha")}
    return Mirrored(
        record="comparison",
        key="comparison",
        name="comparison",
        tags={**tags, "kind": "comparison"},
        params=params,
        scores=scores,
        artifacts=artifacts,
    )
