"""pix2pix and CycleGAN parts against shapes and hand computations: the U-Net, ResNet and
PatchGAN nets at 32, 64 and 256 px (with the PatchGAN's receptive fields), each objective
term on tiny tensors, the image pool under a fixed seed, the augmentation, and the
learning-rate schedule."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganforge.errors import ConfigError
from ganforge.losses import get_loss
from ganforge.nets.config import ImagePair, ModelConfig, NetConfig
from ganforge.nets.registry import arch_is_convolutional, build_patch_discriminator, build_translator
from ganforge.nets.translation import PatchDiscriminator, patch_layers, resnet_blocks
from ganforge.systems.cyclegan import ImagePool
from ganforge.systems.translation import (
    augment,
    cyclegan_generator_loss,
    halved_discriminator_loss,
    l1,
    pix2pix_generator_loss,
)
from ganforge.train.config import TrainConfig
from ganforge.train.schedule import Schedule


@pytest.mark.parametrize("size", [32, 64, 256])
def test_unet_maps_images_to_images_of_the_same_size_with_dropout_at_every_size(size):
    g = build_translator(NetConfig("unet", width=4, dropout=0.5), ImagePair(1, 3, size))
    y = g(torch.randn(2, 1, size, size))
    assert y.shape == (2, 3, size, size) and y.abs().max() <= 1
    assert g.levels == size.bit_length() - 1  # down to 1×1
    assert any(isinstance(m, nn.Dropout) for m in g.modules())
    assert g.dropout_levels == list(
        range(max(1, g.levels - 4), g.levels - 1)
    )  # 3 blocks next to the innermost


def test_unet_skip_connections_carry_the_input_detail():
    g = build_translator(NetConfig("unet", width=4), ImagePair(1, 1, 16)).eval()
    x = torch.zeros(1, 1, 16, 16)
    x2 = x.clone()
    x2[0, 0, 3, 3] = 1.0  # one pixel: only the outermost skip keeps its position
    changed = (g(x2) - g(x)).abs()[0, 0] > 1e-6
    assert changed[3, 3] and not changed.all()


def test_unet_refuses_a_size_that_is_not_a_power_of_two():
    with pytest.raises(ConfigError, match="power-of-two image size"):
        build_translator(NetConfig("unet"), ImagePair(3, 3, 28))


@pytest.mark.parametrize(("size", "blocks"), [(28, 3), (32, 3), (128, 6), (256, 9)])
def test_resnet_generator_keeps_the_size_and_has_blocks_by_size(size, blocks):
    g = build_translator(NetConfig("resnet", width=4), ImagePair(3, 3, size))
    assert g.blocks == resnet_blocks(size) == blocks
    if size <= 64:
        assert g(torch.randn(1, 3, size, size)).shape == (1, 3, size, size)


@pytest.mark.parametrize(("layers", "field"), [(1, 16), (2, 34), (3, 70)])
def test_patchgan_receptive_fields(layers, field):
    assert PatchDiscriminator.field(layers) == field


@pytest.mark.parametrize(("size", "layers", "patches"), [(32, 1, 14), (64, 2, 14), (256, 3, 30)])
def test_patchgan_picks_the_layers_that_fit_and_scores_patches(size, layers, patches):
    assert patch_layers(size) == layers
    d = build_patch_discriminator(NetConfig("patchgan", width=4), 4, size)
    assert d.layers == layers and d.receptive_field <= size
    assert d(torch.randn(2, 4, size, size)).shape == (2, 1, patches, patches) and d.output_size == patches


def test_patchgan_layers_can_be_set_and_the_nets_are_convolutional():
    d = build_patch_discriminator(NetConfig("patchgan", width=4, layers=3), 3, 256)
    assert d.receptive_field == 70
    assert arch_is_convolutional(
        ModelConfig(generator=NetConfig("unet"), discriminator=NetConfig("patchgan"))
    )
    assert not arch_is_convolutional(ModelConfig(generator=NetConfig("mlp"), discriminator=NetConfig("mlp")))
    with pytest.raises(
        ConfigError, match=r"unknown translator arch 'unte'; known translator archs: resnet, unet"
    ):
        build_translator(NetConfig("unte"), ImagePair(1, 1, 32))


def test_pix2pix_losses_by_hand():
    ns = get_loss("ns")
    real, fake = torch.tensor([[2.0, 0.0]]), torch.tensor([[-1.0, 1.0]])
    # BCE(real, 1) = mean softplus(-real); BCE(fake, 0) = mean softplus(fake); halved
    sp = torch.nn.functional.softplus
    expected = 0.5 * (sp(-real).mean() + sp(fake).mean())
    assert halved_discriminator_loss(ns, real, fake).item() == pytest.approx(expected.item())
    out, target = torch.tensor([[0.5, -0.5]]), torch.tensor([[0.0, 0.0]])
    total, parts = pix2pix_generator_loss(ns, fake, out, target, l1_weight=100.0, gan_weight=1.0)
    assert parts["l1"].item() == pytest.approx(0.5)
    assert parts["g_gan"].item() == pytest.approx(sp(-fake).mean().item())
    assert total.item() == pytest.approx(100 * 0.5 + sp(-fake).mean().item())
    l1_only, parts = pix2pix_generator_loss(ns, None, out, target, l1_weight=100.0, gan_weight=0.0)
    assert l1_only.item() == pytest.approx(50.0) and "g_gan" not in parts


def test_cyclegan_losses_by_hand():
    ls = get_loss("ls")
    d_b, d_a = torch.tensor([0.5]), torch.tensor([0.0])  # D_b on G(a), D_a on F(b)
    a, b = torch.zeros(1, 2), torch.ones(1, 2)
    rec_a, rec_b = torch.tensor([[0.2, 0.0]]), torch.tensor([[1.0, 0.6]])  # cycle L1: 0.1 and 0.2
    idt_b, idt_a = torch.tensor([[1.0, 1.0]]), torch.tensor([[0.0, 0.4]])  # identity L1: 0 and 0.2
    total, parts = cyclegan_generator_loss(
        ls, (d_b, d_a), ((rec_a, a), (rec_b, b)), ((idt_b, b), (idt_a, a)), 2.0, 10.0, 0.5
    )
    adversarial = 0.5 * (0.5 - 1) ** 2 + 0.5 * (0.0 - 1) ** 2  # LSGAN's ½(D(G(x)) − 1)², each way
    assert parts["g_gan"].item() == pytest.approx(adversarial)
    assert parts["cycle"].item() == pytest.approx(0.3) and parts["identity"].item() == pytest.approx(0.2)
    assert total.item() == pytest.approx(2.0 * adversarial + 10 * 0.3 + 10 * 0.5 * 0.2)
    _, no_identity = cyclegan_generator_loss(ls, (d_b, d_a), ((rec_a, a), (rec_b, b)), None, 2.0, 10.0, 0.0)
    assert "identity" not in no_identity
    assert l1(torch.tensor([1.0, -1.0]), torch.zeros(2)).item() == 1.0


def test_image_pool_fills_then_swaps_half_the_time_under_a_fixed_seed():
    pool = ImagePool(3, torch.Generator().manual_seed(0))
    batch = torch.arange(2.0).view(2, 1, 1, 1)
    assert torch.equal(pool.query(batch), batch) and len(pool.images) == 2  # filling: returned as they are
    out = pool.query(torch.tensor([2.0, 3.0, 4.0, 5.0]).view(4, 1, 1, 1)).flatten().tolist()
    assert out[0] == 2.0 and len(pool.images) == 3  # the third fills the pool
    gen = torch.Generator().manual_seed(0)  # replay the pool's draws by hand
    stored, expected = [0.0, 1.0, 2.0], [2.0]
    for new in (3.0, 4.0, 5.0):
        if float(torch.rand((), generator=gen)) < 0.5:
            i = int(torch.randint(0, 3, (), generator=gen))
            expected.append(stored[i])
            stored[i] = new
        else:
            expected.append(new)
    assert out == expected and sorted(x.item() for x in pool.images) == sorted(stored)
    assert sum(o != n for o, n in zip(out[1:], (3.0, 4.0, 5.0), strict=True)) > 0 or out[1:] == [
        3.0,
        4.0,
        5.0,
    ]
    state = pool.state_dict()
    again = ImagePool(3, torch.Generator())
    again.load_state_dict(state)
    probe = torch.tensor([7.0, 8.0]).view(2, 1, 1, 1)
    assert torch.equal(again.query(probe), pool.query(probe))
    assert torch.equal(ImagePool(0, torch.Generator()).query(probe), probe)


def test_augmentation_moves_both_images_of_a_pair_alike():
    a = torch.arange(64.0).view(1, 1, 8, 8).repeat(4, 1, 1, 1)
    out = augment({"a": a, "b": a * 2}, jitter=0.25, flip=True, generator=torch.Generator().manual_seed(3))
    assert out["a"].shape == a.shape and torch.allclose(out["b"], out["a"] * 2)
    assert not all(torch.equal(out["a"][i], a[i]) for i in range(4))


def test_linear_schedule_falls_from_one_to_zero_between_its_steps():
    s = Schedule.from_config(TrainConfig(lr_schedule="linear", lr_decay_start=10, lr_decay_end=20))
    assert [s.lr_factor(d) for d in (0, 10, 15, 20, 25)] == [1.0, 1.0, 0.5, 0.0, 0.0]
    assert Schedule.from_config(TrainConfig()).lr_factor(10**6) == 1.0
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.2)
    s.attach({"g": opt})
    assert s.apply(15, {"g": opt}) == 0.5 and opt.param_groups[0]["lr"] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="lr_decay_start < lr_decay_end"):
        TrainConfig(lr_schedule="linear", lr_decay_start=5, lr_decay_end=5)


def test_top_k_fraction_falls_linearly_to_nu_and_stays():
    s = Schedule.from_config(TrainConfig(top_k=0.5, top_k_end=10))
    assert [s.kept(d) for d in (0, 5, 10, 100)] == [1.0, 0.75, 0.5, 0.5]
    assert Schedule.from_config(TrainConfig(top_k=0.6)).kept(0) == 0.6
    assert Schedule.from_config(TrainConfig()).kept(10**6) == 1.0
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match="top_k must be in"):
            TrainConfig(top_k=bad)
