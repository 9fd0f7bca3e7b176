"""pix2pix and CycleGAN parts against shapes and hand computations: the U-Net, ResNet and
PatchGAN nets at 32, 64 and 256 px (with the PatchGAN's receptive fields), each objective
term on tiny tensors, the image pool under a fixed seed, the augmentation, and the
learning-rate schedule."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganforge.core.errors import ConfigError
from ganforge.losses import get_loss
from ganforge.nets.config import ImagePair, ModelConfig, NetConfig
from ganforge.nets.registry import arch_is_convolutional, build_patch_discriminator, build_translator
from ganforge.nets.translation import PatchDiscriminator, patch_layers, resnet_blocks
from ganforge.systems.cyclegan import ImagePool
from ganforge.systems.registry import SYSTEM_OPTIONS
from ganforge.systems.translation import (
    augment,
    cyclegan_generator_loss,
    halved_discriminator_loss,
    l1,
    pix2pix_generator_loss,
)
from ganforge.train.config import TrainConfig
from ganforge.train.schedule import Schedule


@pytest.mark.parametrize(("size", "dropout_levels"), [(32, []), (64, [4]), (256, [4, 5, 6])])
def test_unet_maps_images_to_images_of_the_same_size_with_dropout_where_the_paper_has_it(
    size, dropout_levels
):
    """The paper's U-Net (num_downs − 5 dropout blocks at 8 × width, outside the innermost):
    none at 32 px, one at 64 px, three at 256 px."""
    g = build_translator(NetConfig("unet", width=4, dropout=0.5), ImagePair(1, 3, size))
    y = g(torch.randn(2, 1, size, size))
    assert y.shape == (2, 3, size, size) and y.abs().max() <= 1
    assert g.levels == size.bit_length() - 1  # down to 1×1
    assert g.dropout_levels == dropout_levels
    with_dropout = [i for i, block in enumerate(g.up) if any(isinstance(m, nn.Dropout) for m in block)]
    assert with_dropout == dropout_levels and not any(isinstance(m, nn.Dropout) for m in g.down.modules())
    widths = [block[-2 if i in dropout_levels else -1].num_features for i, block in enumerate(g.up) if i]
    assert all(widths[i - 1] == 32 for i in dropout_levels)  # 8 × width on both sides


@pytest.mark.parametrize("size", [32, 64])
def test_unet_reaches_one_pixel_and_concatenates_each_skip_at_its_own_level(size):
    """Every encoder level halves the size down to 1×1 (the innermost block is reached) and
    each decoder level reads its own encoder level beside the level below (twice the
    channels), so the outermost decoder sees the first encoder level at half the size."""
    g = build_translator(NetConfig("unet", width=4), ImagePair(1, 3, size)).eval()
    sizes, shapes = [], []
    hooks = [b.register_forward_hook(lambda _m, _i, out: sizes.append(out.shape[-1])) for b in g.down]
    hooks += [b.register_forward_hook(lambda _m, i, _o: shapes.append(i[0].shape)) for b in g.up]
    g(torch.randn(1, 1, size, size))
    for h in hooks:
        h.remove()
    assert sizes == [size >> (i + 1) for i in range(g.levels)] and sizes[-1] == 1
    by_level = dict(zip(range(g.levels - 1, -1, -1), shapes, strict=True))  # the innermost runs first
    down_channels = [b[-2 if 0 < i < g.levels - 1 else -1].out_channels for i, b in enumerate(g.down)]
    for level, shape in by_level.items():
        expected = down_channels[level] * (1 if level == g.levels - 1 else 2)
        assert shape[1] == expected and shape[-1] == size >> (level + 1)


def test_unet_samples_deterministically_in_eval_mode_and_with_noise_in_training():
    g = build_translator(NetConfig("unet", width=4, dropout=0.5), ImagePair(1, 3, 64))
    x = torch.randn(4, 1, 64, 64)
    g.train()
    assert not torch.equal(g(x), g(x))  # dropout (and batch statistics) while training
    g.eval()
    assert torch.equal(g(x), g(x))  # sampling: no dropout, running statistics


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


@pytest.mark.parametrize(
    ("size", "layers", "patches"), [(8, 1, 2), (16, 2, 2), (24, 3, 1), (32, 3, 2), (64, 3, 6), (256, 3, 30)]
)
def test_patchgan_has_the_papers_three_layers_wherever_a_patch_is_left(size, layers, patches):
    """The 70×70 PatchGAN at every size that keeps a logit (fewer layers only below 24 px);
    it judges input and output together (their channels concatenated)."""
    assert patch_layers(size) == layers
    d = build_patch_discriminator(NetConfig("patchgan", width=4), 4, size)
    assert d.layers == layers and d.receptive_field == PatchDiscriminator.field(layers)
    assert d.net[0].in_channels == 4
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


def test_translating_in_train_mode_is_seeded_and_leaves_the_net_as_it_was():
    """`sampling: train` (the reference's default at test time): dropout on and each batch's
    own statistics, drawn from a fixed seed so a translation repeats; the running statistics,
    the net's mode and the global random state are left as they were. Eval mode is the
    default and ignores both."""
    from ganforge.systems.translation import translate

    g = build_translator(NetConfig("unet", width=4, dropout=0.5), ImagePair(1, 3, 64))
    g.train()
    images = torch.randint(0, 256, (6, 1, 64, 64), dtype=torch.uint8)
    before = {k: v.clone() for k, v in g.state_dict().items()}
    state = torch.get_rng_state()
    train_mode = translate(g, images, 1, batch_size=3, mode="train")
    assert torch.equal(train_mode, translate(g, images, 1, batch_size=3, mode="train"))
    assert all(torch.equal(v, g.state_dict()[k]) for k, v in before.items()) and g.training
    assert torch.equal(torch.get_rng_state(), state)
    eval_mode = translate(g, images, 1)
    assert not torch.equal(eval_mode, train_mode) and torch.equal(
        eval_mode, translate(g, images, 1, batch_size=2)
    )


def test_the_sampling_mode_is_an_option_of_pix2pix_and_the_report_says_it():
    from ganforge.report import sampling_lines
    from ganforge.systems.registry import get_system
    from ganforge.variants import resolve_variant
    from ganforge.variants.system_options import parse_system

    assert parse_system({"kind": "pix2pix"}, "s", SYSTEM_OPTIONS).sampling == "eval"  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="sampling"):
        parse_system({"kind": "pix2pix", "sampling": "dropout"}, "variants.x.system", SYSTEM_OPTIONS)
    spec = {"dataset": "pairs", "system": {"kind": "pix2pix", "sampling": "train"}}
    variant = resolve_variant("p", spec, {}, "", table=SYSTEM_OPTIONS)
    assert get_system("pix2pix").sampling(variant) == "train"
    results = {"p": [{"sampling": {"jacobian_keep": 1.0, "mode": "train"}}], "q": [{"sampling": {}}]}
    assert sampling_lines(["p", "q"], results) == [
        "Translations scored as sampled: `p` in train mode (dropout on, each batch's own statistics).",
        "",
    ]
    assert sampling_lines(["q"], results) == []


def test_pix2pix_feeds_each_input_with_its_own_target_in_the_tanh_range_and_d_sees_both():
    """The data path of a pix2pix step, piece by piece: every drawn input meets the target of
    its own pair (before and after the paired jitter and flip), both lie in [-1, 1] as the
    generator's tanh does, and the discriminator gets (input, output) stacked on channels."""
    from ganforge.systems.translation import domains
    from tests.runs import build, tiny_variant

    variant, data = tiny_variant("pix2pix_edges2emoji64")
    built, _ = build(variant, data)
    doms, _ = domains(variant, data)
    pairs = {
        doms["a"].images[i].to(torch.float32).mul(2 / 255).sub(1).numpy().tobytes(): i
        for i in range(len(doms["a"].images))
    }
    batch = built.sampler.next()
    source, target = batch["source"], batch["target"]
    assert source.min() >= -1 and source.max() <= 1 and target.min() >= -1 and target.max() <= 1
    for s, t in zip(source, target, strict=True):
        i = pairs[s.numpy().tobytes()]
        assert torch.equal(t, doms["b"].images[i].to(torch.float32).mul(2 / 255).sub(1))
    system = built.system
    jittered, moved = system._inputs(batch)
    assert jittered.shape == source.shape and moved.shape == target.shape
    seen: list[torch.Tensor] = []
    hook = system.d.register_forward_hook(lambda _m, args, _out: seen.append(args[0]))
    system.step("discriminator", batch, at=1, diagnose=False)
    hook.remove()
    assert [x.shape[1] for x in seen] == [source.shape[1] + target.shape[1]] * 2
    real = seen[0]
    assert real[:, source.shape[1] :].abs().max() <= 1
    assert system.g(source).abs().max() <= 1


@pytest.mark.parametrize("size", [32, 64])
def test_unet_up_sampling_covers_every_output_pixel_evenly(size):
    """The transposed convolutions' kernel (4) is a multiple of their stride (2), so every
    output pixel away from the border sums the same number of taps: a constant input through
    all-ones kernels comes out constant inside. An uneven overlap (kernel 3, stride 2) is the
    checkerboard of Odena et al. (2016) and would fail here."""
    net = build_translator(NetConfig("unet", width=4), ImagePair(1, 3, size))
    ups = [m for m in net.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert len(ups) == size.bit_length() - 1
    for up in ups:
        assert up.kernel_size[0] % up.stride[0] == 0, up
        probe = nn.ConvTranspose2d(1, 1, up.kernel_size, up.stride, up.padding, bias=False)
        nn.init.ones_(probe.weight)
        out = probe(torch.ones(1, 1, 6, 6))[0, 0, 1:-1, 1:-1]
        assert torch.all(out == out[0, 0]), out
    uneven = nn.ConvTranspose2d(1, 1, 3, 2, 1, bias=False)
    nn.init.ones_(uneven.weight)
    inner = uneven(torch.ones(1, 1, 6, 6))[0, 0, 1:-1, 1:-1]
    assert not torch.all(inner == inner[0, 0])  # the probe does see a checkerboard
