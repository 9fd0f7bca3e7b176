"""The few-shot subset source: a fixed seeded fraction of a prepared image set, labels kept,
scored with the whole set's evaluator; bad fractions and non-image sources are one line."""

import pytest
import torch

from ganforge.core.config import from_dict
from ganforge.core.errors import ConfigError, DataError
from ganforge.data.prepared import PreparedDataset, save_prepared
from ganforge.data.registry import get_source, parse_dataset
from ganforge.data.subset import SubsetConfig, make_subset

GROUPS = ["a", "b", "c"]


def save_images(ctx, name="emoji", n=40):
    """n images whose every pixel is the image's index, labelled index % 3."""
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 3, 4, 4).contiguous()
    tensors = {"images": images, "labels": torch.arange(n) % 3}
    meta = {"data_sha256": "abc", "stand_in": True, "stand_in_for": "anime"}
    save_prepared(PreparedDataset(name, "images", tensors, GROUPS, meta), ctx.prepared_dir)


def test_a_subset_is_a_fixed_fraction_of_whole_images_with_their_labels(ctx_factory):
    ctx = ctx_factory("emoji_10pct")
    save_images(ctx)
    ds = make_subset(SubsetConfig(from_dataset="emoji", fraction=0.25, seed=4), ctx)
    assert ds.kind == "images" and ds.images.shape == (10, 3, 4, 4)
    index = ds.images[:, 0, 0, 0].long()
    assert (ds.images == ds.images[:, :1, :1, :1]).all()  # whole source images
    assert index.unique().numel() == 10 and bool((index[1:] > index[:-1]).all())  # distinct, in order
    assert torch.equal(ds.labels, index % 3)
    assert ds.class_names == GROUPS
    assert ds.meta["evaluator"] == "whole_set" and ds.meta["classifier_from"] == "emoji"
    assert ds.meta["subset"] == {"of": "emoji", "fraction": 0.25, "seed": 4, "count": 10}
    assert ds.meta["counts"] == {"kept": 10, "skipped": 30}
    assert ds.meta["stand_in_for"] == "anime"  # a stand-in's subset is still labelled as one
    again = make_subset(SubsetConfig(from_dataset="emoji", fraction=0.25, seed=4), ctx)
    other = make_subset(SubsetConfig(from_dataset="emoji", fraction=0.25, seed=5), ctx)
    assert torch.equal(again.images, ds.images) and not torch.equal(other.images, ds.images)


def test_a_tiny_fraction_keeps_one_image_and_the_whole_fraction_keeps_all(ctx_factory):
    ctx = ctx_factory("emoji_sub")
    save_images(ctx, n=7)
    assert len(make_subset(SubsetConfig(from_dataset="emoji", fraction=0.01), ctx)) == 1
    assert len(make_subset(SubsetConfig(from_dataset="emoji", fraction=1.0), ctx)) == 7


@pytest.mark.parametrize("fraction", [0, -0.1, 1.5])
def test_a_fraction_outside_0_1_is_one_line(fraction):
    with pytest.raises(ConfigError, match=r"fraction must be in \(0, 1\]") as info:
        parse_dataset({"source": "subset", "from_dataset": "emoji", "fraction": fraction}, "datasets.x")
    assert "\n" not in str(info.value)


def test_a_subset_of_a_non_image_set_is_one_line(ctx_factory):
    ctx = ctx_factory("ring_sub")
    points = PreparedDataset("ring", "points", {"points": torch.zeros(10, 2)}, [], {"data_sha256": "x"})
    save_prepared(points, ctx.prepared_dir)
    with pytest.raises(DataError, match="needs an image dataset") as info:
        make_subset(from_dict(SubsetConfig, {"from_dataset": "ring"}, "x"), ctx)
    assert "\n" not in str(info.value)


def test_the_subset_source_is_derived():
    assert get_source("subset").derived
