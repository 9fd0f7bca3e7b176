"""Stacked MNIST: the derived dataset (three independent digits as R, G, B; 1,000 modes) and
its mode scores, against hand computations."""

import math

import numpy as np
import pytest
import torch

from ganforge.core.errors import DataError
from ganforge.data.prepared import PreparedDataset, save_prepared
from ganforge.data.registry import get_source
from ganforge.data.stacked import StackedConfig, make_stacked, mode_names
from ganforge.metrics.modes import stacked_coverage

DIGITS = [str(d) for d in range(10)]


def save_digits(ctx, name="mnist", channels=1, labels=True):
    """20 'digits' whose every pixel is the image's index, labelled index % 10."""
    n = 20
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, channels, 4, 4).contiguous()
    tensors = {"images": images, **({"labels": torch.arange(n) % 10} if labels else {})}
    save_prepared(PreparedDataset(name, "images", tensors, DIGITS, {"data_sha256": "x"}), ctx.prepared_dir)


def test_each_channel_is_an_independently_drawn_digit_and_the_label_is_its_mode(ctx_factory):
    ctx = ctx_factory("stacked_mnist")
    save_digits(ctx)
    ds = make_stacked(StackedConfig(from_dataset="mnist", count=500, seed=3), ctx)
    assert ds.kind == "images" and ds.images.shape == (500, 3, 4, 4) and ds.images.dtype == torch.uint8
    source_index = ds.images[:, :, 0, 0].long()  # which source image each channel holds
    assert (ds.images == ds.images[:, :, :1, :1]).all()  # whole source images, not mixtures
    digits = source_index % 10
    assert torch.equal(ds.labels, digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2])
    assert len(ds.class_names) == 1000 and ds.class_names[372] == "372"
    assert not (source_index[:, 0] == source_index[:, 1]).all()  # channels drawn independently
    assert len(set(ds.labels.tolist())) > 300  # 500 draws over 1,000 modes spread widely
    assert ds.meta["modes"] == 1000 and ds.meta["derived_from"] == "mnist"
    again = make_stacked(StackedConfig(from_dataset="mnist", count=500, seed=3), ctx)
    other = make_stacked(StackedConfig(from_dataset="mnist", count=500, seed=4), ctx)
    assert torch.equal(again.images, ds.images) and not torch.equal(other.images, ds.images)
    assert get_source("stacked").derived


def test_stacking_needs_a_labelled_grayscale_dataset(ctx_factory):
    ctx = ctx_factory("stacked")
    save_digits(ctx, "rgb", channels=3)
    save_digits(ctx, "unlabelled", labels=False)
    with pytest.raises(DataError, match="labelled grayscale dataset; 'rgb' has 3 channel"):
        make_stacked(StackedConfig(from_dataset="rgb"), ctx)
    with pytest.raises(DataError, match="and no labels"):
        make_stacked(StackedConfig(from_dataset="unlabelled"), ctx)
    with pytest.raises(ValueError, match="count must be positive"):
        StackedConfig(from_dataset="mnist", count=0)


def test_mode_names_put_red_first():
    names = mode_names(10)
    assert names[:3] == ["000", "001", "002"] and names[100] == "100" and names[-1] == "999"


def test_stacked_coverage_against_hand_computations():
    every = np.array([[r, g, b] for r in range(10) for g in range(10) for b in range(10)])
    uniform = stacked_coverage(np.repeat(every, 2, axis=0))
    assert uniform["modes_covered"] == 1000 and uniform["reverse_kl"] == pytest.approx(0.0, abs=1e-9)
    one = stacked_coverage(np.array([[3, 7, 2]] * 50))
    assert one["modes_covered"] == 1 and one["reverse_kl"] == pytest.approx(math.log(1000), rel=1e-6)
    # Two modes, 3:1: KL = 3/4 log(3/4 · 1000) + 1/4 log(1/4 · 1000).
    two = stacked_coverage(np.array([[0, 0, 0]] * 3 + [[9, 9, 9]]))
    expected = 0.75 * math.log(750) + 0.25 * math.log(250)
    assert two["modes_covered"] == 2 and two["reverse_kl"] == pytest.approx(expected, rel=1e-6)
    assert two["samples"] == 4 and two["modes_total"] == 1000
    with pytest.raises(DataError, match="N×3"):
        stacked_coverage(np.zeros((4, 2), dtype=int))
