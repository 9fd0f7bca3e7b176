"""The Stacked MNIST evaluator: built from another dataset's domain classifier (never one of
its own), it reads each channel's digit, counts the modes of real stacks and of generators
that cover all of them, one of them, or one digit per channel, and refuses to be built
without the classifier it borrows."""

from __future__ import annotations

import math
import shutil

import pytest
import torch

from ganforge.core.errors import DataError, MissingDataError
from ganforge.data.fetch import SourceContext
from ganforge.data.prepared import PreparedDataset, save_prepared
from ganforge.data.stacked import StackedConfig, make_stacked
from ganforge.evaluation.evaluator import build_evaluator, evaluator_for, load_evaluator
from tests.builders import digit_images, offline_settings

DIGITS = [str(d) for d in range(10)]


@pytest.fixture(scope="module")
def setting(tmp_path_factory):
    """A digit set with its own evaluator (a small trained classifier), and a stacked set made
    from it by the real source."""
    root = tmp_path_factory.mktemp("stacked")
    images, labels = digit_images(600, seed=5)
    digits = PreparedDataset(
        "digits",
        "images",
        {"images": torch.from_numpy(images).unsqueeze(1), "labels": torch.from_numpy(labels).long()},
        DIGITS,
        {"data_sha256": "x"},
    )
    save_prepared(digits, root / "prepared")
    settings = offline_settings(real_count=300, epochs=6, batch_size=32)
    source_report = build_evaluator(digits, settings, root / "evaluators" / "digits", log=lambda m: None)
    ctx = SourceContext(
        name="stacked_digits", raw_dir=root / "raw", prepared_dir=root / "prepared", offline=True
    )
    stacked = make_stacked(StackedConfig(from_dataset="digits", count=3000, seed=1), ctx)
    return root, settings, source_report, stacked


def build(setting, folder_name="stacked_digits", borrowed=None):
    root, settings, _, stacked = setting
    folder = root / "evaluators" / folder_name
    if borrowed is None:
        borrowed = {"digits": root / "evaluators" / "digits"}
    report = build_evaluator(stacked, settings, folder, log=lambda m: None, borrowed=borrowed)
    return folder, report


def test_it_borrows_the_source_classifier_and_reads_the_real_stacks(setting):
    root, _, source_report, stacked = setting
    assert evaluator_for(stacked.kind, stacked.meta["evaluator"]).name == "stacked"
    folder, report = build(setting)
    channels = report["extractors"]["channels"]
    assert channels["classifier_from"] == "digits" and channels["dim"] == 3 * 16
    # the copy in the folder is the source's classifier, byte for byte
    assert (folder / "channel_classifier.pt").read_bytes() == (
        root / "evaluators" / "digits" / "classifier.pt"
    ).read_bytes()
    assert (
        channels["channel_accuracy"] > 0.9 > 0.0 < source_report["extractors"]["domain"]["heldout_accuracy"]
    )
    real = report["real_modes"]
    assert real["modes_total"] == 1000 and real["samples"] == 300
    assert 200 < real["modes_covered"] <= 300  # 300 stacks over 1,000 modes: mostly distinct


def payload(images: torch.Tensor) -> dict:
    return {"samples": {"ema": images}, "labels": None}


def test_it_counts_modes_of_generators_that_cover_all_one_or_one_digit_per_channel(setting):
    _, settings, _, stacked = setting
    folder, _ = build(setting)
    evaluator = load_evaluator(folder, settings)
    everything = evaluator.score(payload(stacked.images), 0)["generators"]["ema"]
    assert everything["modes"]["samples"] == 3000 and everything["modes"]["modes_total"] == 1000
    assert everything["modes"]["modes_covered"] > 900  # 3,000 uniform stacks hit ~95% of the modes
    one = stacked.images[:1].expand(500, -1, -1, -1)
    collapsed = evaluator.score(payload(one), 0)["generators"]["ema"]
    assert collapsed["modes"]["modes_covered"] == 1
    assert collapsed["modes"]["reverse_kl"] == pytest.approx(math.log(1000), rel=1e-6)
    assert collapsed["channels"]["fd"] > 10 * everything["channels"]["fd"]
    # the same digit in all three channels: at most 10 modes however varied the digits are
    gray = stacked.images[:, :1].expand(-1, 3, -1, -1)
    diagonal = evaluator.score(payload(gray), 0)["generators"]["ema"]["modes"]
    assert diagonal["modes_covered"] <= 10


def test_it_refuses_to_build_without_the_classifier_it_borrows(setting, tmp_path):
    with pytest.raises(DataError, match=r"scored by digits's domain classifier.*--classifier-from digits"):
        build(setting, "no_borrow", borrowed={})
    empty = tmp_path / "empty_evaluator"
    empty.mkdir()
    with pytest.raises(MissingDataError, match=r"no domain classifier at .*evaluator@digits"):
        build(setting, "missing", borrowed={"digits": empty})


def test_scoring_refuses_samples_that_are_not_three_channels(setting):
    _, settings, _, stacked = setting
    folder, _ = build(setting)
    evaluator = load_evaluator(folder, settings)
    with pytest.raises(DataError, match="must be N×3×H×W"):
        evaluator.score(payload(stacked.images[:, :1]), 0)
    shutil.rmtree(folder)
