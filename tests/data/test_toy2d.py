import math

import pytest
import torch

from ganforge.data.toy2d import Toy2DConfig, make_toy2d, mixture_means


def test_ring_means_are_on_the_unit_circle():
    means = mixture_means(Toy2DConfig(shape="ring"))
    assert means.shape == (8, 2)
    for i, (x, y) in enumerate(means.tolist()):
        assert x == pytest.approx(math.cos(2 * math.pi * i / 8))
        assert y == pytest.approx(math.sin(2 * math.pi * i / 8))


def test_grid_means():
    means = mixture_means(Toy2DConfig(shape="grid"))
    assert means.shape == (25, 2)
    assert sorted(set(means[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]


def test_ring_samples_sit_on_their_modes_with_the_right_sigma(ctx_factory):
    ds = make_toy2d(Toy2DConfig(shape="ring", count=40000, seed=1), ctx_factory("ring"))
    means = torch.tensor(ds.meta["truth"]["means"], dtype=torch.float32)
    residual = ds.points - means[ds.labels]
    assert residual.std().item() == pytest.approx(0.01, rel=0.05)
    counts = torch.bincount(ds.labels, minlength=8).float()
    assert (counts / counts.sum() - 1 / 8).abs().max() < 0.01
    assert ds.meta["truth"]["sigma"] == 0.01


def test_grid_sigma_and_circle_radius(ctx_factory):
    grid = make_toy2d(Toy2DConfig(shape="grid", count=30000), ctx_factory("grid"))
    means = torch.tensor(grid.meta["truth"]["means"], dtype=torch.float32)
    assert (grid.points - means[grid.labels]).std().item() == pytest.approx(0.05, rel=0.05)
    circle = make_toy2d(Toy2DConfig(shape="circle", count=30000), ctx_factory("circle"))
    radius = circle.points.norm(dim=1)
    assert radius.mean().item() == pytest.approx(5.0, abs=0.02)
    assert radius.std().item() == pytest.approx(0.5, rel=0.05)
    assert circle.labels is None and circle.meta["truth"] == {
        "type": "circle",
        "radius": 5.0,
        "radius_sigma": 0.5,
    }


def test_same_seed_same_points_other_seed_other_points(ctx_factory):
    a = make_toy2d(Toy2DConfig(shape="ring", count=100, seed=5), ctx_factory())
    b = make_toy2d(Toy2DConfig(shape="ring", count=100, seed=5), ctx_factory())
    c = make_toy2d(Toy2DConfig(shape="ring", count=100, seed=6), ctx_factory())
    assert torch.equal(a.points, b.points) and not torch.equal(a.points, c.points)


def test_bad_values():
    with pytest.raises(ValueError, match="count must be positive"):
        Toy2DConfig(shape="ring", count=0)
    with pytest.raises(ValueError, match="sigma must be positive"):
        Toy2DConfig(shape="grid", sigma=-1.0)
