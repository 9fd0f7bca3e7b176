"""The evaluator of a subset (few-shot training, `ganforge.data.subset`): the evaluator of
the whole set the subset was drawn from, copied (its domain classifier, its real-data
references, its report), so a run trained on 10% of a set is scored exactly as a run trained
on all of it, against real images it mostly never saw."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ganforge.core.errors import DataError, MissingDataError
from ganforge.data.prepared import PreparedDataset
from ganforge.evaluation.base import REFERENCE_FILE
from ganforge.evaluation.common import Log, Settings
from ganforge.evaluation.images import CLASSIFIER_FILE, ImageEvaluator
from ganforge.layout import EVALUATOR_REPORT_FILE


class WholeSetEvaluator(ImageEvaluator):
    name = "whole_set"
    data_kinds = ()  # chosen by the dataset (a subset's meta names it), not by its kind

    @classmethod
    def build(
        cls,
        ds: PreparedDataset,
        settings: Settings,
        folder: Path,
        log: Log,
        borrowed: Mapping[str, Path] | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        whole = ds.meta.get("classifier_from")
        source = (borrowed or {}).get(whole) if isinstance(whole, str) else None
        if source is None:
            raise DataError(
                f"{ds.name} is scored with the evaluator of {whole}: build it with `python -m pipeline "
                f"evaluator {ds.name} --classifier-from {whole}` (the cross_evaluator stage, from "
                f"run.cross_evaluators), not from run.evaluators"
            )
        if not (source / REFERENCE_FILE).is_file():
            raise MissingDataError(f"no evaluator at {source}: run `dvc repro evaluator@{whole}` first")
        parent = torch.load(source / REFERENCE_FILE, map_location="cpu", weights_only=True)
        if parent.get("evaluator") != ImageEvaluator.name:
            raise DataError(
                f"{ds.name}: {whole}'s evaluator is {parent.get('evaluator')!r}; a subset is scored "
                f"with an image set's evaluator"
            )
        folder.mkdir(parents=True, exist_ok=True)
        if (source / CLASSIFIER_FILE).is_file():
            shutil.copyfile(source / CLASSIFIER_FILE, folder / CLASSIFIER_FILE)
        if not (source / EVALUATOR_REPORT_FILE).is_file():
            raise MissingDataError(f"{source} has no {EVALUATOR_REPORT_FILE}: rebuild {whole}'s evaluator")
        report = json.loads((source / EVALUATOR_REPORT_FILE).read_text())
        reference = dict(report["reference"])
        reference["choice"] = (
            f"{whole}'s reference ({reference.get('choice')}): {ds.name}'s runs, trained on "
            f"{len(ds)} of its images, are scored against the whole set"
        )
        state = {
            "references": parent["references"],
            "unavailable": parent["unavailable"],
            "class_names": parent["class_names"],
            "classifier_of": parent["dataset"],
        }
        log(f"evaluator {ds.name}: {whole}'s, copied ({len(ds)} training images, scored as {whole})")
        out = {k: report[k] for k in ("extractors", "unavailable", "real_examples") if k in report}
        return state, {**out, "scored_as": whole, "reference": reference}
