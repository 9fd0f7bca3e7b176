"""Trained generators in MLflow's model registry, as custom pyfunc models whose one artifact
is the run's `generator.pt`: MLflow loads them through `ganforge.serving.pyfunc`, which
reads the file with `weights_only=True`, so nothing in the registry is ever unpickled.

One registered model per variant; one version per trained run, tagged with its seed,
dataset, stand-in flag, profile, git commit, fingerprint, DVC experiment and headline
scores. `register_runs` is idempotent: a run whose version exists is left alone."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganforge.core.io import sha256_file
from ganforge.mirror import EXPERIMENT_TAG, FINGERPRINT_TAG, RECORD_TAG, WORKSPACE, Mirrored
from ganforge.tracking import ModelRegistry, save_pyfunc_model, store_lock

MODEL_FOLDER = "registered_generator"
LOADER_MODULE = "ganforge.serving.pyfunc"  # reads the file with weights_only=True
DIGEST_TAG = "generator_sha256"


@dataclass
class Registration:
    """One run's generator as a registry version should hold it."""

    name: str
    generator: Path
    run_id: str
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class RegistryReport:
    registered: int = 0
    unchanged: int = 0

    def line(self) -> str:
        return f"model registry: {self.registered} versions registered, {self.unchanged} unchanged"


def save_pyfunc(generator: Path, folder: Path) -> Path:
    """The pyfunc model folder of a generator file (MLmodel, environment, data/generator.pt)."""
    return save_pyfunc_model(folder, LOADER_MODULE, generator, ["ganforge", "torch"])


def register_runs(uri: str, wanted: Sequence[Registration]) -> RegistryReport:
    """Make the registry hold one version per run of `wanted` (matched by fingerprint, DVC
    experiment and the generator's checksum)."""
    registry = ModelRegistry(uri)
    report = RegistryReport()
    with store_lock(uri):  # queued experiments' track stages register side by side
        _register(registry, wanted, report)
    return report


def _register(registry: ModelRegistry, wanted: Sequence[Registration], report: RegistryReport) -> None:
    known: dict[str, set[tuple[str, str, str]]] = {}
    for reg in wanted:
        if reg.name not in known:
            registry.ensure(reg.name, f"ganforge generators of variant {reg.name}")
            known[reg.name] = {
                (v.tags.get("fingerprint", ""), v.tags.get("dvc_experiment", ""), v.tags.get(DIGEST_TAG, ""))
                for v in registry.versions(reg.name)
            }
        digest = sha256_file(reg.generator)
        identity = (reg.tags.get("fingerprint", ""), reg.tags.get("dvc_experiment", ""), digest)
        if identity in known[reg.name]:
            report.unchanged += 1
            continue
        with tempfile.TemporaryDirectory() as tmp:
            folder = save_pyfunc(reg.generator, Path(tmp) / MODEL_FOLDER)
            registry.register(reg.name, reg.run_id, folder, {**reg.tags, DIGEST_TAG: digest})
        known[reg.name].add(identity)
        report.registered += 1


def registrations(
    runs: Sequence[Any], wanted: Sequence[Mirrored], headline: Mapping[str, Mapping[str, float]]
) -> list[Registration]:
    """What to register after mirroring: each training record's generator, on the MLflow
    run that mirrors it (`runs`: the store's runs, with `run_id` and `tags`), tagged with its
    seed, dataset, stand-in flag, profile, commit and its variant's headline scores."""
    by_identity: dict[tuple[str, str], str] = {}
    by_fingerprint: dict[str, str] = {}
    for run in runs:
        tags = run.tags
        if tags.get(RECORD_TAG) != "run" or FINGERPRINT_TAG not in tags:
            continue
        by_identity.setdefault((tags[FINGERPRINT_TAG], tags.get(EXPERIMENT_TAG, WORKSPACE)), run.run_id)
        by_fingerprint.setdefault(tags[FINGERPRINT_TAG], run.run_id)
    out = []
    for record in wanted:
        generator = next((p for p, folder in record.artifacts if folder == "model"), None)
        if record.record != "run" or generator is None:
            continue
        experiment = record.tags.get(EXPERIMENT_TAG, WORKSPACE)
        run_id = by_identity.get((record.key, experiment)) or by_fingerprint.get(record.key)
        if run_id is None:
            continue
        variant = record.tags.get("variant", record.name)
        scores = {f"score.{k}": f"{v:.6g}" for k, v in headline.get(variant, {}).items()}
        keep = (
            "seed",
            "dataset",
            "stand_in",
            "profile",
            "git_commit",
            "system",
            FINGERPRINT_TAG,
            EXPERIMENT_TAG,
        )
        tags = {k: str(record.tags[k]) for k in keep if k in record.tags}
        out.append(Registration(variant, generator, run_id, {**tags, **scores, "scores": SCORES_NOTE}))
    return out


SCORES_NOTE = "score.* tags: the variant's headline scores, mean over its run seeds (reports/scores.json)"
