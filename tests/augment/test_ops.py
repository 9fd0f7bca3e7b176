"""DiffAugment's and ADA's ops: exactly what they say on small hand-made images, differentiable,
reproducible from the generator, and split over processes as one process draws them."""

import pytest
import torch

from ganforge.augment.config import AugmentConfig
from ganforge.augment.ops import ada_augment, color, cutout, diff_augment, translation
from ganforge.core.sharding import Shard


def fixed(*values: float):
    """A draw function returning the given U[0, 1) values, one per image, shaped as asked."""

    def uniform(*rest: int) -> torch.Tensor:
        n = len(values)
        return torch.tensor(values).view(n, *([1] * len(rest))).expand(n, *rest).clone()

    return uniform


def test_translation_moves_whole_pixels_and_fills_with_zeros():
    x = torch.arange(1.0, 17.0).view(1, 1, 4, 4)
    # fraction 0.25 of 4 px: shifts in [-1, 1]; u = 0.99 picks +1 in both directions.
    moved = translation(x, fixed(0.99), 0.25)
    expected = torch.zeros(1, 1, 4, 4)
    expected[..., 1:, 1:] = x[..., :3, :3]
    assert torch.equal(moved, expected)
    assert torch.equal(translation(x, fixed(0.5), 0.25), x)  # u = 0.5: no shift


def test_cutout_zeroes_one_square_of_the_given_side():
    x = torch.ones(1, 3, 8, 8)
    out = cutout(x, fixed(0.5), 0.5)  # a 4×4 square centred at (4, 4)
    assert (out == 0).all(dim=1).sum() == 16
    assert torch.equal(out[0, :, 2:6, 2:6], torch.zeros(3, 4, 4))


def test_color_is_brightness_then_saturation_then_contrast():
    x = torch.tensor([[[[0.2]], [[-0.4]], [[0.6]]]])  # one pixel, three channels
    out = color(x, fixed(0.75))  # +0.25, saturation ×1.5, contrast ×1.25
    y = x + 0.25
    m = y.mean(dim=1, keepdim=True)
    y = (y - m) * 1.5 + m
    m = y.mean()
    assert torch.allclose(out, (y - m) * 1.25 + m)


def test_augmentations_are_differentiable_and_reproducible():
    cfg = AugmentConfig(policy=("color", "translation", "cutout"))
    x = torch.randn(4, 3, 16, 16, requires_grad=True)
    a = diff_augment(x, cfg, torch.Generator().manual_seed(3))
    a.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    b = diff_augment(x, cfg, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and not torch.equal(a, diff_augment(x, cfg, torch.Generator().manual_seed(4)))


def test_two_processes_augment_their_halves_as_one_process_does():
    cfg = AugmentConfig(policy=("color", "translation", "cutout"), ada=True)
    x = torch.randn(6, 3, 8, 8)
    whole = diff_augment(x, cfg, torch.Generator().manual_seed(1))
    halves = [
        diff_augment(x[r * 3 : r * 3 + 3], cfg, torch.Generator().manual_seed(1), Shard(r, 2)) for r in (0, 1)
    ]
    assert torch.equal(torch.cat(halves), whole)
    whole = ada_augment(x, 0.5, cfg, torch.Generator().manual_seed(2))
    halves = [
        ada_augment(x[r * 3 : r * 3 + 3], 0.5, cfg, torch.Generator().manual_seed(2), Shard(r, 2))
        for r in (0, 1)
    ]
    assert torch.equal(torch.cat(halves), whole)


@pytest.mark.parametrize("p", [0.0, 1.0])
def test_ada_at_p_0_changes_nothing_and_at_p_1_applies_every_op(p):
    cfg = AugmentConfig(ada=True, ada_ops=("xflip",))
    x = torch.randn(5, 1, 4, 4)
    out = ada_augment(x, p, cfg, torch.Generator().manual_seed(0))
    assert torch.equal(out, x if p == 0.0 else x.flip(3))
