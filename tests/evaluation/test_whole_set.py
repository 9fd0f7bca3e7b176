"""The evaluator of a few-shot subset: the whole set's evaluator, copied (classifier byte for
byte, the same real references), so a subset's run scores as a run on the whole set would;
its protocol says so, and it refuses to be built without the evaluator it copies."""

from __future__ import annotations

import json

import pytest
import torch

from ganforge.core.errors import DataError, MissingDataError
from ganforge.data.fetch import SourceContext
from ganforge.data.prepared import PreparedDataset, save_prepared
from ganforge.data.subset import SubsetConfig, make_subset
from ganforge.evaluation.evaluator import build_evaluator, evaluator_for, load_evaluator
from ganforge.layout import EVALUATOR_REPORT_FILE
from tests.builders import digit_images, offline_settings

DIGITS = [str(d) for d in range(10)]


@pytest.fixture(scope="module")
def setting(tmp_path_factory):
    """A digit set with its evaluator (its report written beside it, as the stage does), and
    a 10% subset of it made by the real source."""
    root = tmp_path_factory.mktemp("whole_set")
    images, labels = digit_images(600, seed=7)
    digits = PreparedDataset(
        "digits",
        "images",
        {"images": torch.from_numpy(images).unsqueeze(1), "labels": torch.from_numpy(labels).long()},
        DIGITS,
        {"data_sha256": "d1g1t5", "split": "test"},
    )
    save_prepared(digits, root / "prepared")
    settings = offline_settings(real_count=300, epochs=4, batch_size=32)
    whole = root / "evaluators" / "digits"
    report = build_evaluator(digits, settings, whole, log=lambda m: None)
    (whole / EVALUATOR_REPORT_FILE).write_text(json.dumps(report))
    ctx = SourceContext(
        name="digits_10pct", raw_dir=root / "raw", prepared_dir=root / "prepared", offline=True
    )
    few = make_subset(SubsetConfig(from_dataset="digits", fraction=0.1, seed=0), ctx)
    return root, settings, report, digits, few


def test_a_subset_is_scored_exactly_as_the_whole_set(setting):
    root, settings, whole_report, digits, few = setting
    assert evaluator_for(few.kind, few.meta["evaluator"]).name == "whole_set"
    folder = root / "evaluators" / "digits_10pct"
    report = build_evaluator(
        few, settings, folder, log=lambda m: None, borrowed={"digits": root / "evaluators" / "digits"}
    )
    assert (folder / "classifier.pt").read_bytes() == (root / "evaluators/digits/classifier.pt").read_bytes()
    assert report["dataset"] == "digits_10pct" and report["scored_as"] == "digits"
    assert report["real_examples"] == whole_report["real_examples"] == 300
    reference = report["reference"]
    assert reference["dataset"] == "digits" and reference["fingerprint"] == "d1g1t5"
    assert reference["split"] == "test" and reference["examples"] == 300
    assert "scored against the whole set" in reference["choice"] and "60 of its images" in reference["choice"]
    assert report["extractors"]["domain"] == whole_report["extractors"]["domain"]
    mine, theirs = load_evaluator(folder, settings), load_evaluator(root / "evaluators" / "digits", settings)
    assert mine.extractors["domain"].name == "domain:digits"  # the protocol names the whole set's classifier
    samples = {"samples": {"ema": digits.images[300:500]}, "labels": None}
    assert mine.score(samples, 3) == theirs.score(samples, 3)
    assert mine.validation_scores(samples, 3) == theirs.validation_scores(samples, 3)


def test_it_refuses_to_be_built_without_the_whole_sets_evaluator(setting, tmp_path):
    _, settings, _, _, few = setting
    with pytest.raises(
        DataError, match=r"evaluator of digits: build it with .*--classifier-from digits"
    ) as info:
        build_evaluator(few, settings, tmp_path / "a", log=lambda m: None, borrowed={})
    assert "\n" not in str(info.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MissingDataError, match=r"no evaluator at .*evaluator@digits"):
        build_evaluator(few, settings, tmp_path / "b", log=lambda m: None, borrowed={"digits": empty})


def test_it_copies_only_an_image_sets_evaluator(setting, tmp_path):
    _, settings, _, _, few = setting
    points = PreparedDataset("pts", "points", {"points": torch.randn(200, 2)}, [], {"data_sha256": "p"})
    other = tmp_path / "pts"
    report = build_evaluator(points, settings, other, log=lambda m: None)
    (other / EVALUATOR_REPORT_FILE).write_text(json.dumps(report, default=str))
    with pytest.raises(DataError, match=r"digits's evaluator is 'points'"):
        build_evaluator(few, settings, tmp_path / "c", log=lambda m: None, borrowed={"digits": other})
