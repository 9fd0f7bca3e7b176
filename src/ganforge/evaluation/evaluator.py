"""The evaluator of a dataset, chosen by the dataset (its meta may name one) or else its
kind: built once (`build_evaluator`:
domain classifiers, real-data references, baselines), saved in a folder, reloaded by the
evaluate stage (`load_evaluator`) to score every run's samples."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ganforge.core.errors import DataError, MissingDataError
from ganforge.core.io import save_torch
from ganforge.data.prepared import PreparedDataset
from ganforge.evaluation.base import REFERENCE_FILE, Evaluator
from ganforge.evaluation.common import REFERENCE_SEED, Log, Settings
from ganforge.evaluation.images import ImageEvaluator
from ganforge.evaluation.points import PointsEvaluator
from ganforge.evaluation.stacked import StackedEvaluator
from ganforge.evaluation.translation import TranslationEvaluator
from ganforge.evaluation.whole_set import WholeSetEvaluator
from ganforge.protocol import reference_protocol

FORMAT_VERSION = 2


def _registry() -> dict[str, type[Evaluator]]:
    evaluators = (ImageEvaluator, PointsEvaluator, StackedEvaluator, TranslationEvaluator, WholeSetEvaluator)
    return {cls.name: cls for cls in evaluators}


def evaluator_for(data_kind: str, named: str | None = None) -> type[Evaluator]:
    """The evaluator a dataset names (`named`, from its meta), else the one for its kind."""
    registry = _registry()
    if named is not None:
        if named not in registry:
            raise DataError(f"no evaluator is called {named!r}; known: {', '.join(sorted(registry))}")
        return registry[named]
    for cls in registry.values():
        if data_kind in cls.data_kinds:
            return cls
    raise DataError(f"no evaluator scores {data_kind} datasets")


def build_evaluator(
    ds: PreparedDataset,
    settings: Settings,
    folder: Path,
    log: Log = print,
    borrowed: Mapping[str, Path] | None = None,
) -> dict[str, Any]:
    """Build and save the evaluator of `ds` in `folder` (with the evaluator folders of the
    datasets it borrows from); return its report."""
    cls = evaluator_for(ds.kind, ds.meta.get("evaluator"))
    state, report = cls.build(ds, settings, folder, log, borrowed)
    save_torch(
        {"format": FORMAT_VERSION, "evaluator": cls.name, "dataset": ds.name, **state},
        folder / REFERENCE_FILE,
    )
    choice = report.pop("reference_choice", f"a seeded subset (seed {REFERENCE_SEED}) of the dataset")
    reference = report.pop("reference", None) or reference_protocol(
        {"dataset": ds.name, **ds.meta}, report.get("real_examples", report.get("heldout")), choice
    )
    return {
        "dataset": ds.name,
        "kind": ds.kind,
        "stand_in": bool(ds.meta.get("stand_in")),
        "stand_in_for": ds.meta.get("stand_in_for"),
        "reference": reference,
        **report,
    }


def load_evaluator(folder: Path, settings: Settings) -> Evaluator:
    path = folder / REFERENCE_FILE
    if not path.is_file():
        raise MissingDataError(
            f"no evaluator at {folder}: add its dataset to run.evaluators and run "
            f"`dvc repro evaluator@{folder.name}`"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
        raise DataError(f"{path} has an unknown format: re-run its evaluator stage")
    return _registry()[state["evaluator"]].load(state, folder, settings)
