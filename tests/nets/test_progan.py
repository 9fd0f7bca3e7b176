"""Progressive growing (ProGAN): the fade-in blends against hand computations, the
equalised-lr scaling, the minibatch-stddev feature, pixel norm, the growth schedule (with the
optimizers' reset at each new resolution), the growth state saved with the weights, the
refusals, and a run killed mid-fade that resumes to bitwise the same weights."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from ganforge.core.errors import ConfigError
from ganforge.nets.config import DataShape, ModelConfig, NetConfig
from ganforge.nets.progan import (
    EqualizedConv2d,
    EqualizedLinear,
    PixelNorm,
    ProGANDiscriminator,
    ProGANGenerator,
    fade,
    fade_reals,
    level_channels,
    minibatch_stddev,
    progan_levels,
)
from ganforge.nets.registry import build_discriminator, build_generator
from ganforge.systems.gan import GanOptions, ProgressiveGanSystem
from ganforge.train.checkpoint import load_checkpoint
from ganforge.train.config import TrainConfig
from ganforge.train.loop import Hooks, Trainer
from ganforge.train.schedule import Growth, Schedule
from tests.runs import SimulatedKillError, assert_same, build, kill_at, tiny_variant

RGB16 = DataShape("images", channels=3, size=16)


def nets(width: int = 4, shape: DataShape = RGB16) -> tuple[ProGANGenerator, ProGANDiscriminator]:
    torch.manual_seed(0)
    model = ModelConfig(8, NetConfig("progan", width), NetConfig("progan", width))
    return build_generator(model, shape), build_discriminator(model, shape)  # type: ignore[return-value]


# -- the blends ------------------------------------------------------------------------
@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_fade_blends_old_and_new_paths_by_alpha(alpha):
    old, new = torch.tensor([2.0, -4.0]), torch.tensor([6.0, 8.0])
    expected = {0.0: [2.0, -4.0], 0.5: [4.0, 2.0], 1.0: [6.0, 8.0]}[alpha]
    assert fade(old, new, alpha).tolist() == expected


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_real_images_fade_from_their_half_resolution_version(alpha):
    x = torch.arange(16.0).view(1, 1, 4, 4)
    # 2×2 means of the 4×4 ramp, nearest-upsampled back to 4×4, by hand:
    half = torch.tensor(
        [[2.5, 2.5, 4.5, 4.5], [2.5, 2.5, 4.5, 4.5], [10.5, 10.5, 12.5, 12.5], [10.5, 10.5, 12.5, 12.5]]
    )
    assert torch.equal(fade_reals(x, alpha)[0, 0], (1 - alpha) * half + alpha * x[0, 0])


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_generator_output_mid_fade_is_the_blend_of_its_two_rgb_paths(alpha):
    g, _ = nets()
    z = torch.randn(3, 8)
    g.set_growth(1, alpha)
    with torch.no_grad():
        h4 = g.blocks[0](g.norm(F.leaky_relu(g.dense(g.norm(z)), 0.2).view(3, -1, 4, 4)))
        old = F.interpolate(g.to_rgb[0](h4), scale_factor=2, mode="nearest")
        new = g.to_rgb[1](g.blocks[1](h4))
        out = g.synthesize(z, None)
        full = g(z)
    torch.testing.assert_close(out, (1 - alpha) * old + alpha * new)
    assert out.shape == (3, 3, 8, 8) and full.shape == (3, 3, 16, 16)  # sampled at the full size
    assert torch.equal(full[:, :, ::2, ::2], out)


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_discriminator_mid_fade_blends_the_half_size_path_with_the_new_block(alpha):
    _, d = nets()
    x = torch.randn(4, 3, 8, 8)
    d.set_growth(1, alpha)
    with torch.no_grad():
        old = d.from_rgb[0](F.avg_pool2d(x, 2))
        new = d.blocks[1](d.from_rgb[1](x))
        expected = d.head(d.final((1 - alpha) * old + alpha * new)).squeeze(1)
        got = d(x)
        d.set_growth(0, 1.0)
        at_4 = d(F.avg_pool2d(x, 2))
    torch.testing.assert_close(got, expected)
    if alpha == 0.0:  # the new block contributes nothing yet: D is still its 4×4 self
        torch.testing.assert_close(got, at_4)


# -- the layers ------------------------------------------------------------------------
def test_equalised_lr_scales_unit_weights_by_he_constant_at_run_time():
    torch.manual_seed(0)
    conv, dense = EqualizedConv2d(8, 4, 3), EqualizedLinear(50, 6, gain=1.0)
    assert conv.scale == pytest.approx(math.sqrt(2) / math.sqrt(8 * 3 * 3))
    assert dense.scale == pytest.approx(1 / math.sqrt(50))
    big = EqualizedConv2d(64, 64, 3)
    assert abs(big.weight.std().item() - 1.0) < 0.02  # stored N(0, 1), not He-initialised
    x = torch.randn(2, 8, 5, 5)
    torch.testing.assert_close(conv(x), F.conv2d(x, conv.weight * conv.scale, conv.bias, padding=1))
    # The gradient on the stored weight is the effective weight's times the scale, so Adam's
    # normalised step moves every layer's effective weights alike.
    w = (dense.weight * dense.scale).detach().requires_grad_(True)
    v = torch.randn(3, 50)
    F.linear(v, w, dense.bias).sum().backward()
    dense(v).sum().backward()
    torch.testing.assert_close(dense.weight.grad, w.grad * dense.scale)


def test_minibatch_stddev_on_a_tiny_batch_by_hand():
    # Four samples of two features at one position; groups of two by sample index mod 2.
    x = torch.tensor([[1.0, 10.0], [2.0, 0.0], [3.0, 14.0], [6.0, 0.0]]).view(4, 2, 1, 1)
    out = minibatch_stddev(x, group=2)
    assert out.shape == (4, 3, 1, 1) and torch.equal(out[:, :2], x)
    eps = 1e-8
    even = (math.sqrt(1 + eps) + math.sqrt(4 + eps)) / 2  # samples 0, 2: stds 1 and 2
    odd = (math.sqrt(4 + eps) + math.sqrt(0 + eps)) / 2  # samples 1, 3: stds 2 and 0
    assert out[:, 2].flatten().tolist() == pytest.approx([even, odd, even, odd])
    lone = minibatch_stddev(torch.randn(3, 2, 2, 2), group=4)  # 3 samples: groups of one
    assert torch.allclose(lone[:, 2], torch.full((3, 2, 2), 1e-4))


def test_pixel_norm_gives_each_pixel_unit_rms_over_channels():
    y = PixelNorm()(torch.randn(2, 5, 3, 3) * 7)
    torch.testing.assert_close(y.pow(2).mean(1), torch.ones(2, 3, 3))


def test_channels_halve_from_4x4_to_the_full_size_and_sizes_are_checked():
    assert progan_levels(8) == 2 and progan_levels(64) == 5
    assert level_channels(NetConfig("progan", 16), 5) == [128, 128, 64, 32, 16]
    for bad in (4, 12, 2048):
        with pytest.raises(ConfigError, match="power-of-two image size from 8"):
            progan_levels(bad)


def test_growth_state_is_saved_with_the_weights():
    g, _ = nets()
    g.set_growth(1, 0.25)
    restored, _ = nets()
    assert (restored.level, restored.alpha) == (2, 1.0)  # built at the full size
    restored.load_state_dict(g.state_dict())
    assert (restored.level, restored.alpha) == (1, 0.25)
    z = torch.randn(2, 8)
    with torch.no_grad():
        assert torch.equal(restored(z), g(z))


@pytest.mark.parametrize(
    ("generator", "discriminator", "message"),
    [
        (NetConfig("progan", 4), NetConfig("dcgan", 4), "arch progan for both"),
        (NetConfig("progan", 4, norm="batch"), NetConfig("progan", 4), "does not implement norm"),
        (NetConfig("progan", 4), NetConfig("progan", 4, pack=2), "does not implement pack"),
        (NetConfig("progan", 4), NetConfig("progan", 4, minibatch_kernels=5), "minibatch_kernels"),
    ],
)
def test_unsupported_combinations_are_refused(generator, discriminator, message):
    variant, data = tiny_variant("progan_anime")
    variant = replace(variant, model=replace(variant.model, generator=generator, discriminator=discriminator))
    with pytest.raises(ConfigError, match=message):
        build(variant, data)


def test_growth_options_are_checked():
    with pytest.raises(ValueError, match="growth_fade needs growth_stable"):
        GanOptions(growth_fade=5)
    with pytest.raises(ValueError, match="must be 0 or more"):
        GanOptions(drift=-0.1)
    with pytest.raises(ValueError, match="compile cannot run with growth"):
        GanOptions(growth_stable=5).check_train(TrainConfig(compile=True, gradient_penalty=0.0))


def test_a_growth_schedule_is_refused_for_nets_that_do_not_grow():
    variant, data = tiny_variant("dcgan_anime", {"growth_stable": 5})
    built, random = build(variant, data)
    with pytest.raises(ConfigError, match="this variant's nets do not grow"):
        Trainer(built.system, built.sampler, random, variant.train, "fp")


# -- the schedule ----------------------------------------------------------------------
def test_growth_phases_are_a_function_of_the_absolute_step():
    s = Schedule.from_config(TrainConfig(), levels=3, growth=Growth(2, 4))
    phases = [s.growth(done) for done in range(16)]
    assert phases[:2] == [(0, 1.0)] * 2
    assert phases[2:6] == [(1, 0.0), (1, 0.25), (1, 0.5), (1, 0.75)]
    assert phases[6:8] == [(1, 1.0)] * 2
    assert phases[8:12] == [(2, 0.0), (2, 0.25), (2, 0.5), (2, 0.75)]
    assert phases[12:] == [(2, 1.0)] * 4  # the last level stays
    assert [d for d in range(16) if s.new_level(d)] == [2, 8]
    assert Schedule.from_config(TrainConfig()).growth(5) == (0, 1.0) and not Schedule().grows


def test_a_new_resolution_resets_every_optimizers_moments():
    s = Schedule.from_config(TrainConfig(), levels=3, growth=Growth(2, 4))
    w = torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.Adam([w])
    for done in range(4):
        s.apply(done, {"g": opt})
        w.grad = torch.ones(2)
        opt.step()
        assert int(opt.state[w]["step"]) == (done + 1 if done < 2 else done - 1)


# -- training --------------------------------------------------------------------------
def progan_run(checkpoint: Path | None, hooks: Hooks | None = None) -> Trainer:
    """progan_anime on 32 px random images: 4×4 for 2 steps, then each level fades in over
    4 and trains 2 more (32×32 from step 14), with WGAN-GP and the drift term."""
    variant, data = tiny_variant(
        "progan_anime", {"growth_stable": 2, "growth_fade": 4}, steps=20, checkpoint_every=2, ema_decay=0.9
    )
    built, random = build(variant, data)
    assert isinstance(built.system, ProgressiveGanSystem)
    return Trainer(built.system, built.sampler, random, variant.train, "fp", checkpoint, hooks)


@pytest.mark.parametrize(
    ("stop_at", "resumed_from", "saved", "upcoming"),
    [(11, 10, (2, 0.25), (2, 0.5)), (15, 14, (2, 1.0), (3, 0.0))],
)
def test_killed_mid_fade_the_run_resumes_bitwise(tmp_path, stop_at, resumed_from, saved, upcoming):
    """Resumed mid-fade (16×16 at α = 0.25, the next step at 0.5), and at the very step
    32×32 begins (the moments reset after the resume): the weights, EMA, optimizer moments
    and curves of a run never interrupted."""
    straight = progan_run(None)
    history = straight.fit().history
    assert [row["resolution"] for row in history[::4]] == [4, 8, 16, 16, 32]
    assert all(math.isfinite(v) for row in history for v in row.values())
    g = straight.system.modules["generator"]
    opt = straight.system.optimizers["generator"]
    assert int(opt.state[g.dense.weight]["step"]) == 6  # moments reset at step 14
    assert (g.level, straight.emas["generator"].module.level) == (3, 3)

    ckpt = tmp_path / "ckpt.pt"
    with pytest.raises(SimulatedKillError):
        progan_run(ckpt, Hooks(on_log=kill_at(stop_at))).fit()
    state, _ = load_checkpoint(ckpt)
    assert state is not None and state["step"] == resumed_from
    for net in ("generator", "discriminator"):  # the phase of the last step trained
        buffers = state["modules"][net]
        assert (int(buffers["growth_level"]), float(buffers["growth_alpha"])) == saved
    assert Schedule(**state["schedule"]).growth(resumed_from) == upcoming
    resumed = progan_run(ckpt)
    resumed_history = resumed.fit().history
    assert_same(straight, resumed)
    strip = [
        [{k: v for k, v in row.items() if k != "images_per_s"} for row in h]
        for h in (history, resumed_history)
    ]
    assert strip[0] == strip[1]
