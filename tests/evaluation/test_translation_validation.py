"""Scores during training for the translation systems: the run keeps `eval_samples` training
examples aside (never trained on, never the held-out test pairs) and scores its translations
of them (L1 to their targets, the target-domain classifier's FD, label preservation); its
best checkpoint is selected on them; too many is one line."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from ganforge.core.errors import ConfigError
from ganforge.data.prepared import PreparedDataset, heldout_mask
from ganforge.evaluation.evaluator import build_evaluator, load_evaluator
from ganforge.layout import BEST_GENERATOR_FILE
from ganforge.runner import RunPaths, train_run
from ganforge.systems.translation import split_masks
from ganforge.trained import load_trained
from tests.builders import offline_settings
from tests.runs import NAMES, build, tiny_variant

SCORED = {"steps": 8, "eval_every": 4, "eval_samples": 12, "checkpoint_every": 4}


def labelled_pairs(n: int = 80) -> PreparedDataset:
    """Paired 32 px images whose class shows in both halves (a bright square whose place is
    the label), so a small classifier learns it and a translation can keep it."""
    gen = torch.Generator().manual_seed(3)
    labels = torch.arange(n) % len(NAMES)
    a = torch.randint(0, 60, (n, 1, 32, 32), dtype=torch.uint8, generator=gen)
    b = torch.randint(0, 60, (n, 3, 32, 32), dtype=torch.uint8, generator=gen)
    for i, label in enumerate(labels.tolist()):
        row, col = divmod(label, 5)
        a[i, :, row * 12 : row * 12 + 8, col * 6 : col * 6 + 6] = 255
        b[i, :, row * 12 : row * 12 + 8, col * 6 : col * 6 + 6] = 255
    tensors = {"a": a, "b": b, "labels": labels, "heldout": heldout_mask(n, 0.2, 0)}
    return PreparedDataset("pairs", "paired", tensors, NAMES, {"data_sha256": "p"})


@pytest.fixture(scope="module")
def setting(tmp_path_factory):
    variant, _ = tiny_variant("pix2pix_edges2anime", **SCORED)
    data = labelled_pairs()
    data.meta["data_sha256"] = variant.dataset_sha256
    settings = offline_settings(real_count=60, epochs=2)
    folder = tmp_path_factory.mktemp("evaluator")
    build_evaluator(data, settings, folder, log=lambda m: None)
    return variant, data, load_evaluator(folder, settings)


def run(tmp: Path, variant, data, evaluator) -> tuple[dict, RunPaths]:
    paths = RunPaths(tmp / "c.pt", tmp / "grids", tmp / "out", tmp / "curves.csv")
    return train_run(variant, 0, data, paths, say=lambda m: None, evaluator=evaluator), paths


def test_a_translation_run_is_scored_on_examples_it_keeps_aside(setting, tmp_path):
    variant, data, evaluator = setting
    summary, paths = run(tmp_path, variant, data, evaluator)
    validation = summary["validation"]
    assert validation["points"] == 2 and validation["selects"] == "a2b.domain.fd"
    rows = list(csv.DictReader(paths.curves.open()))
    scored = [r for r in rows if r["score.a2b.domain.fd"]]
    assert [int(r["step"]) for r in scored] == [4, 8]
    for row in scored:
        assert 0 < float(row["score.a2b.l1"]) < 2 and 0 <= float(row["score.a2b.label_preservation"]) <= 1
    best = load_trained(paths.out_dir / BEST_GENERATOR_FILE)
    assert best.info["steps"] == validation["best"]["step"] and best.info["checkpoint"] == "best"


def test_the_validation_examples_are_neither_trained_on_nor_the_test_pairs(setting):
    variant, data, _ = setting
    heldout, validation = split_masks(variant, data)["a"]
    assert int(validation.sum()) == 12 and not (validation & heldout).any()
    assert torch.equal(split_masks(variant, data)["b"][1], validation)  # paired: the same pairs
    built, _ = build(variant, data)
    trained = built.sampler.tensors["source"]
    assert len(trained) == len(data.tensors["a"]) - int(heldout.sum()) - 12
    kept = ~heldout & ~validation
    assert torch.equal(trained.cpu(), data.tensors["a"][kept])
    again = split_masks(variant, data)["a"][1]
    assert torch.equal(again, validation)  # fixed: a resumed run keeps the same examples aside
    unscored = replace(variant, train=replace(variant.train, eval_every=0))
    assert not split_masks(unscored, data)["a"][1].any()  # not scored: nothing is kept aside


def test_an_unpaired_set_keeps_examples_of_each_domain_aside():
    variant, data = tiny_variant("cyclegan_horse2zebra", **SCORED)
    masks = split_masks(variant, data)
    for heldout, validation in masks.values():
        assert int(validation.sum()) == 12 and not (validation & heldout).any()
    assert not torch.equal(masks["a"][1], masks["b"][1])  # drawn apart, as the held-out parts


def test_more_validation_examples_than_training_examples_is_one_line(setting):
    variant, data, _ = setting
    big = replace(variant, train=replace(variant.train, eval_samples=64))
    with pytest.raises(
        ConfigError, match=r"eval_samples: 64 validation examples leave none of the 64"
    ) as info:
        build(big, data)
    assert "\n" not in str(info.value)
