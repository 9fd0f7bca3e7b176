"""The translation evaluator on a recoloured-digits set: the identity row is the floor, a
perfect translator scores zero L1 and full label preservation, a label-flipping one keeps the
colours but loses the labels, and cycle errors are measured."""

from __future__ import annotations

import pytest
import torch

from ganforge.data.prepared import PreparedDataset, heldout_masks
from ganforge.data.translation import recolor
from ganforge.evaluation.evaluator import build_evaluator, evaluator_for, load_evaluator
from tests.builders import digit_images, offline_settings

FG, BG = (255, 200, 0), (20, 40, 120)


@pytest.fixture(scope="module")
def setting(tmp_path_factory):
    images, labels = digit_images(400, seed=3)
    x, y = torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels).long()
    a, b = x[:200], x[200:]
    masks = {"heldout_a": torch.arange(200) % 5 == 0, "heldout_b": torch.arange(200) % 5 == 1}
    tensors = {"a": a, "b": recolor(b, FG, BG), "a_to_b": recolor(a, FG, BG), "b_to_a": b, **masks,
               "labels_a": y[:200], "labels_b": y[200:]}  # fmt: skip
    ds = PreparedDataset("digits2color", "unpaired", tensors, [str(i) for i in range(10)])
    settings = offline_settings(real_count=200, epochs=6)
    folder = tmp_path_factory.mktemp("evaluator")
    report = build_evaluator(ds, settings, folder, log=lambda m: None)
    return ds, settings, folder, report


def test_translation_sets_get_the_translation_evaluator():
    assert evaluator_for("paired").name == evaluator_for("unpaired").name == "translation"
    assert evaluator_for("images").name == "images" and evaluator_for("points").name == "points"


def payload(ds: PreparedDataset, outputs: dict, cycle: dict | None = None) -> dict:
    masks = heldout_masks(ds)
    directions = {}
    for d, src in {"a2b": "a", "b2a": "b"}.items():
        idx = masks[src].nonzero().flatten()
        directions[d] = {"indices": idx, "outputs": {"ema": outputs[d](idx)}, "cycle": {}}
        if cycle:
            directions[d]["cycle"] = {"ema": cycle[d](idx)}
    return {"kind": "translations", "directions": directions}


def test_identity_is_the_floor_and_a_perfect_translator_wins(setting):
    ds, settings, folder, report = setting
    identity = report["baselines"]["identity"]
    assert identity["a2b"]["l1"] > 0.05 and identity["a2b"]["ssim"] < 0.9
    assert report["extractors"]["domain_b"]["heldout_accuracy"] > 0.8
    evaluator = load_evaluator(folder, settings)
    perfect = payload(
        ds,
        {"a2b": lambda idx: ds.tensors["a_to_b"][idx], "b2a": lambda idx: ds.tensors["b_to_a"][idx]},
        cycle={"a2b": lambda idx: ds.tensors["a"][idx], "b2a": lambda idx: ds.tensors["b"][idx]},
    )
    scores = evaluator.score(perfect, 0)["generators"]["ema"]
    assert scores["a2b"]["l1"] == 0.0 and scores["a2b"]["psnr"] == 100.0
    assert scores["a2b"]["label_preservation"] > 0.9 and scores["b2a"]["label_preservation"] > 0.9
    assert scores["a2b"]["cycle_l1"] == 0.0
    assert scores["a2b"]["domain"]["fd"] < identity["a2b"]["domain"]["fd"]
    assert scores["a2b"]["inception"]["available"] is False


def test_a_label_flipping_translator_loses_the_labels(setting):
    ds, settings, folder, _ = setting
    evaluator = load_evaluator(folder, settings)
    a2b = ds.tensors["a_to_b"]
    labels = ds.tensors["labels_a"]

    def flipped(idx: torch.Tensor) -> torch.Tensor:  # each digit swapped for one of another class
        other = torch.stack([(labels != labels[i]).nonzero()[0, 0] for i in idx])
        return a2b[other]

    ok = lambda idx: ds.tensors["b_to_a"][idx]  # noqa: E731
    scores = evaluator.score(payload(ds, {"a2b": flipped, "b2a": ok}), 0)["generators"]["ema"]
    assert scores["a2b"]["label_preservation"] < 0.3 and scores["a2b"]["l1"] > 0
