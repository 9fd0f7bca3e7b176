"""The training loop: it runs every variant of the full profile (every system) without NaN,
and a run interrupted at any step and resumed from its checkpoint ends with bitwise the same
weights (on the CPU), for every system."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from ganforge.core import device as device_module
from ganforge.core.batches import BatchSampler
from ganforge.core.device import resolve_placement
from ganforge.core.errors import ConfigError
from ganforge.core.seeds import RunRandom
from ganforge.losses import get_loss
from ganforge.nets.config import DataShape, ModelConfig, NetConfig
from ganforge.nets.registry import build_discriminator, build_generator
from ganforge.systems.gan import GanOptions, GanSystem
from ganforge.systems.registry import get_system
from ganforge.train.checkpoint import load_checkpoint
from ganforge.train.config import TrainConfig
from ganforge.train.loop import Hooks, Trainer
from tests.runs import (
    CPU,
    FULL,
    SimulatedKillError,
    assert_same,
    build,
    kill_at,
    tiny_variant,
    weights,
)


def make_trainer(
    shape: DataShape,
    model: ModelConfig,
    cfg: TrainConfig,
    seed: int = 0,
    checkpoint: Path | None = None,
    hooks: Hooks | None = None,
    n: int = 96,
    amp_dtype: torch.dtype | None = None,
    options: GanOptions | None = None,
) -> Trainer:
    random = RunRandom(seed, CPU)
    g, d = build_generator(model, shape), build_discriminator(model, shape)
    system = GanSystem(
        g, d, get_loss(cfg.loss), cfg, CPU, random.noise, amp_dtype, options=options or GanOptions()
    )
    data_gen = torch.Generator().manual_seed(123)
    if shape.kind == "images":
        data = torch.randint(
            0, 256, (n, shape.channels, shape.size, shape.size), dtype=torch.uint8, generator=data_gen
        )
    else:
        data = torch.randn(n, shape.dim, generator=data_gen)
    labels = torch.arange(n) % shape.classes if shape.classes else None
    sampler = BatchSampler({"x": data, "labels": labels}, cfg.batch_size, random.data, CPU)
    return Trainer(system, sampler, random, cfg, "fp", checkpoint, hooks)


@pytest.mark.parametrize("name", sorted(FULL["run"]["variants"]))
def test_every_variant_trains_a_few_steps_without_nan(name):
    """Each variant of the full profile (the quick and smoke ones are among them), through
    its system's own build, with a small batch and conv widths of 8: finite losses and
    weights, and a generator per averaged name that the system rebuilds for sampling."""
    variant, data = tiny_variant(name)
    built, random = build(variant, data)
    result = Trainer(built.system, built.sampler, random, variant.train, "fp").fit()
    assert len(result.history) == 3
    for row in result.history:
        assert all(torch.isfinite(torch.tensor(v)) for v in row.values()), row
    for module in built.system.modules.values():
        assert all(torch.isfinite(p).all() for p in module.parameters())
    rebuilt = get_system(variant.kind).generators(variant, built.spec)
    assert set(rebuilt) == set(result.ema) == set(built.system.averaged())
    for key, net in rebuilt.items():
        net.load_state_dict(result.ema[key].state_dict())
    scores = built.system.run_scores(result.ema)
    if variant.kind == "semi_supervised":
        assert (
            scores["semi_supervised"]["labelled"] == 20
            and 0.0 <= scores["semi_supervised"]["test_error"] <= 1.0
        )


def small_setup():
    shape = DataShape("images", 1, 16, classes=4)
    net = NetConfig("dcgan", 4, dropout=0.2)
    return shape, ModelConfig(8, net, net)


@pytest.mark.parametrize(("stop_at", "amp_dtype"), [(3, None), (5, None), (8, None), (5, torch.bfloat16)])
def test_resume_after_an_interrupt_is_bitwise_identical(tmp_path, stop_at, amp_dtype):
    shape, model = small_setup()
    cfg = TrainConfig(steps=10, batch_size=8, log_every=3, checkpoint_every=2, d_steps=2, real_label=0.9)
    uninterrupted = make_trainer(shape, model, cfg, amp_dtype=amp_dtype)
    result = uninterrupted.fit()
    ckpt = tmp_path / "ckpt.pt"
    with pytest.raises(SimulatedKillError):
        make_trainer(
            shape, model, cfg, checkpoint=ckpt, hooks=Hooks(on_log=kill_at(stop_at)), amp_dtype=amp_dtype
        ).fit()
    resumed = make_trainer(shape, model, cfg, checkpoint=ckpt, amp_dtype=amp_dtype)
    resumed_result = resumed.fit()
    assert 0 < resumed_result.resumed_from < stop_at + 1
    assert_same(uninterrupted, resumed)
    timeless = [
        [{k: v for k, v in row.items() if k != "images_per_s"} for row in h]
        for h in (resumed_result.history, result.history)
    ]
    assert timeless[0] == timeless[1]


def test_a_resumed_run_keeps_its_first_start_and_counts_its_earlier_sessions(tmp_path):
    """The checkpoint carries the run's clock: a resumed run started when its first session did,
    and its earlier sessions' seconds (up to their last checkpoint) carry over."""
    shape, model = small_setup()
    cfg = TrainConfig(steps=10, batch_size=8, log_every=3, checkpoint_every=2)
    ckpt = tmp_path / "ckpt.pt"
    first = make_trainer(shape, model, cfg, checkpoint=ckpt, hooks=Hooks(on_log=kill_at(5)))
    with pytest.raises(SimulatedKillError):
        first.fit()
    saved = load_checkpoint(ckpt)[0]["clock"]
    assert saved["started"] == first.clock.started and saved["seconds"] > 0
    time.sleep(0.05)
    result = make_trainer(shape, model, cfg, checkpoint=ckpt).fit()
    assert result.resumed_from == 4
    assert result.clock.started == first.clock.started and result.clock.seconds == saved["seconds"]
    assert load_checkpoint(ckpt)[0]["clock"]["seconds"] > saved["seconds"]
    fresh = make_trainer(shape, model, cfg).fit()
    assert fresh.clock.seconds == 0 and fresh.clock.started > first.clock.started


@pytest.mark.parametrize("name", ["pix2pix_facades", "cyclegan_horse2zebra", "ssgan_mnist"])
def test_every_system_resumes_bitwise(tmp_path, name):
    """pix2pix with jitter and flips (its augmentation generator), CycleGAN with its pools,
    second sampler and augmentation, the semi-supervised GAN with its labelled sampler, under
    a linear learning-rate decay: killed mid-run and resumed, the same bits as uninterrupted."""
    train = {"steps": 9, "checkpoint_every": 2, "log_every": 3, "lr_schedule": "linear", "lr_decay_start": 3,
             "lr_decay_end": 12}  # fmt: skip
    variant, data = tiny_variant(name, **train)
    if variant.kind == "cyclegan":
        variant = replace(variant, system=replace(variant.system, pool_size=3))

    def trainer(checkpoint: Path | None, hooks: Hooks | None = None) -> Trainer:
        built, random = build(variant, data)
        return Trainer(built.system, built.sampler, random, variant.train, "fp", checkpoint, hooks)

    straight = trainer(None)
    straight.fit()
    ckpt = tmp_path / "ckpt.pt"
    with pytest.raises(SimulatedKillError):
        trainer(ckpt, Hooks(on_log=kill_at(6))).fit()
    resumed = trainer(ckpt)
    assert resumed.fit().resumed_from == 4  # the kill came before step 6 was saved
    assert_same(straight, resumed)


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_uses_bf16_on_cpu_only_where_it_is_native_and_for_images(monkeypatch, native):
    monkeypatch.setattr(device_module, "cpu_has_native_bf16", lambda: native)
    images = resolve_placement("cpu", "auto", "auto", convolutional=True)
    assert images.amp_dtype == (torch.bfloat16 if native else None) and images.channels_last == native
    assert images.precision == ("bf16 autocast" if native else "fp32")
    dense = resolve_placement("cpu", "auto", "auto", convolutional=False)
    assert dense.amp_dtype == images.amp_dtype and not dense.channels_last
    toy = resolve_placement("cpu", "auto", "auto", convolutional=False, images=False)
    assert toy.amp_dtype is None  # the 2-D toys get slower under autocast
    off = resolve_placement("cpu", "off", "auto", convolutional=True)
    assert off.amp_dtype is None and not off.channels_last
    forced = resolve_placement("cpu", "off", "on", convolutional=True)  # fp32 in channels_last
    assert forced.amp_dtype is None and forced.channels_last
    assert not resolve_placement("cpu", "off", "on", convolutional=False).channels_last


@pytest.mark.parametrize(
    ("setting", "probe", "native"),
    [("off", True, False), ("on", False, True), ("auto", True, True), ("", False, False)],
)
def test_the_bf16_switch_forces_either_path_whatever_the_cpu(monkeypatch, setting, probe, native):
    """GANFORGE_CPU_BF16 off takes a bf16 CPU as an AVX2-only one (the fp32 path), on the
    reverse; auto (or unset) trusts the probe. The machine record keeps both."""
    monkeypatch.setattr(device_module, "cpu_probes_native_bf16", lambda: probe)
    monkeypatch.setenv(device_module.CPU_BF16_ENV, setting)
    assert device_module.cpu_has_native_bf16() is native
    assert device_module.image_precision() == ("bf16 autocast" if native else "fp32")
    info = device_module.machine()
    assert info["cpu_native_bf16"] is probe and info["bf16_taken_as_native"] is native
    assert info["torch"] == torch.__version__ and info["cpu"]


def test_a_bad_bf16_switch_is_one_clear_error(monkeypatch):
    monkeypatch.setenv(device_module.CPU_BF16_ENV, "yes")
    with pytest.raises(ConfigError, match="GANFORGE_CPU_BF16 must be auto, off or on, got 'yes'"):
        device_module.cpu_has_native_bf16()


def test_same_seed_same_weights_other_seed_other_weights():
    shape, model = small_setup()
    cfg = TrainConfig(steps=3, batch_size=8, log_every=3)
    a, b, c = (make_trainer(shape, model, cfg, seed=s) for s in (1, 1, 2))
    for t in (a, b, c):
        t.fit()
    wa, wb, wc = weights(a), weights(b), weights(c)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)


def test_a_checkpoint_of_another_config_is_not_resumed_and_says_so(tmp_path):
    shape, model = small_setup()
    ckpt = tmp_path / "ckpt.pt"
    make_trainer(shape, model, TrainConfig(steps=4, batch_size=8, log_every=2), checkpoint=ckpt).fit()
    said = []
    trainer = make_trainer(
        shape,
        model,
        TrainConfig(steps=4, batch_size=8, log_every=2),
        checkpoint=ckpt,
        hooks=Hooks(on_message=said.append),
    )
    trainer.fingerprint = "another"
    assert trainer.fit().resumed_from == 0
    assert said == [f"checkpoint {ckpt} was made with another configuration: starting over"]


def test_a_finished_run_resumes_at_its_end_and_a_longer_one_continues(tmp_path):
    shape, model = small_setup()
    ckpt = tmp_path / "ckpt.pt"
    make_trainer(shape, model, TrainConfig(steps=4, batch_size=8, log_every=2), checkpoint=ckpt).fit()
    again = make_trainer(shape, model, TrainConfig(steps=4, batch_size=8, log_every=2), checkpoint=ckpt).fit()
    assert again.resumed_from == 4 and len(again.history) == 2
    longer = make_trainer(
        shape, model, TrainConfig(steps=6, batch_size=8, log_every=2), checkpoint=ckpt
    ).fit()
    assert longer.resumed_from == 4 and [r["step"] for r in longer.history] == [2, 4, 6]


def test_continuing_past_steps_keeps_the_past_schedule(tmp_path):
    """The decay is in absolute steps: a 4-step run continued to 8 ends with the weights of
    an 8-step run, and another decay range is a new configuration (not resumed)."""
    shape, model = small_setup()
    decay = {
        "lr_schedule": "linear",
        "lr_decay_start": 2,
        "lr_decay_end": 10,
        "batch_size": 8,
        "log_every": 2,
    }
    ckpt = tmp_path / "ckpt.pt"
    make_trainer(shape, model, TrainConfig(steps=4, **decay), checkpoint=ckpt).fit()
    continued = make_trainer(shape, model, TrainConfig(steps=8, **decay), checkpoint=ckpt)
    assert continued.fit().resumed_from == 4
    straight = make_trainer(shape, model, TrainConfig(steps=8, **decay))
    straight.fit()
    assert_same(continued, straight)
    other = make_trainer(shape, model, TrainConfig(steps=8, **{**decay, "lr_decay_end": 20}), checkpoint=ckpt)
    assert other.fit().resumed_from == 0


def test_diagnostics_are_logged():
    shape, model = small_setup()
    rows = make_trainer(shape, model, TrainConfig(steps=2, batch_size=8, log_every=1)).fit().history
    assert {"d_loss", "g_loss", "d_real", "d_fake", "grad_norm_d", "grad_norm_g", "images_per_s"} <= set(
        rows[0]
    )
    assert 0.0 < rows[0]["d_real"] < 1.0 and rows[0]["grad_norm_g"] > 0


def test_grids_every_n_steps_and_at_the_end():
    shape, model = small_setup()
    steps = []
    cfg = TrainConfig(steps=7, batch_size=8, log_every=7, checkpoint_every=7, grid_every=3)
    make_trainer(shape, model, cfg, hooks=Hooks(on_grid=lambda step, nets: steps.append(step))).fit()
    assert steps == [3, 6, 7]


def test_a_batch_larger_than_the_data_is_a_one_line_config_error():

    with pytest.raises(
        ConfigError, match=r"the training data has 5 examples, fewer than one batch of 8: lower"
    ):
        BatchSampler({"x": torch.zeros(5, 2)}, 8, torch.Generator(), CPU)


@pytest.mark.parametrize(
    ("name", "recomputed"),
    [("dcgan_emoji64", {"generator"}), ("pix2pix_edges2emoji64", {"generator"}), ("cgan_mnist", {"generator"}),
     ("cyclegan_mnist2color", set()), ("gan_ring", set())],
)  # fmt: skip
def test_standing_statistics_of_each_system(name, recomputed):
    """Averaged generators with batch norm get their statistics recomputed from fresh inputs
    (latents, or training images to translate); instance norm and plain nets have none."""
    from ganforge.runner import standing_statistics

    variant, data = tiny_variant(name, ema_standing_batches=4)
    built, random = build(variant, data)
    result = Trainer(built.system, built.sampler, random, variant.train, "fp").fit()
    before = {k: [t.clone() for t in net.buffers()] for k, net in result.ema.items()}
    done = standing_statistics(built.system, result.ema, variant.train, 0, CPU)
    assert set(done) == recomputed and all(v["batches"] == 4 for v in done.values())
    for k in recomputed:
        assert any(not torch.equal(a, b) for a, b in zip(before[k], result.ema[k].buffers(), strict=True))


def test_top_k_training_changes_the_run_and_resumes_bitwise_mid_decay(tmp_path):
    """Top-k training (a fraction falling from 1 to 0.5 over 10 steps) trains other weights
    than the plain run, and a run interrupted mid-decay resumes to the uninterrupted bits."""
    shape, model = small_setup()
    cfg = TrainConfig(steps=8, batch_size=8, log_every=2, checkpoint_every=2)
    top = GanOptions(top_k=0.5, top_k_end=10)
    straight = make_trainer(shape, model, cfg, options=top)
    straight.fit()
    plain = make_trainer(shape, model, cfg)
    plain.fit()
    assert any(
        not torch.equal(a, b)
        for a, b in zip(weights(straight).values(), weights(plain).values(), strict=True)
    )
    ckpt = tmp_path / "ckpt.pt"
    with pytest.raises(SimulatedKillError):
        make_trainer(shape, model, cfg, checkpoint=ckpt, hooks=Hooks(on_log=kill_at(5)), options=top).fit()
    resumed = make_trainer(shape, model, cfg, checkpoint=ckpt, options=top)
    assert resumed.fit().resumed_from == 4
    assert_same(straight, resumed)
