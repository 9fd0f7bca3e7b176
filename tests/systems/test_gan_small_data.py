"""The `gan` system's small-data tools through the real trainer: lazy R1/R2 as a phase every N
steps, ADA's p as training state (logged, checkpointed, resumed bitwise), DiffAugment reaching
D, the relativistic pairing loss, and the one-line refusals of bad settings."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from ganforge.augment.config import AugmentConfig
from ganforge.core.batches import BatchSampler
from ganforge.core.errors import ConfigError
from ganforge.core.seeds import RunRandom
from ganforge.losses import get_loss
from ganforge.nets.config import DataShape, ModelConfig, NetConfig
from ganforge.nets.registry import build_discriminator, build_generator
from ganforge.systems.gan import GanOptions, GanSystem
from ganforge.systems.registry import SYSTEM_OPTIONS
from ganforge.train.checkpoint import load_checkpoint
from ganforge.train.config import TrainConfig
from ganforge.train.loop import Hooks, Trainer
from ganforge.variants import resolve_variant
from tests.runs import CPU, SimulatedKillError, assert_same, kill_at

SHAPE = DataShape("images", 1, 16, classes=0)
NET = NetConfig("dcgan", 4)
MODEL = ModelConfig(8, NET, NET)


def trainer(
    cfg: TrainConfig,
    augment: AugmentConfig | None = None,
    checkpoint: Path | None = None,
    hooks: Hooks | None = None,
    options: GanOptions | None = None,
) -> Trainer:
    random = RunRandom(0, CPU)
    g, d = build_generator(MODEL, SHAPE), build_discriminator(MODEL, SHAPE)
    system = GanSystem(
        g, d, get_loss(cfg.loss), cfg, CPU, random.noise, None, augment, options or GanOptions()
    )
    data = torch.randint(
        0, 256, (64, 1, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(9)
    )
    sampler = BatchSampler({"x": data, "labels": None}, cfg.batch_size, random.data, CPU)
    return Trainer(system, sampler, random, cfg, "fp", checkpoint, hooks)


def test_lazy_r1_runs_every_n_steps_and_eager_r1_every_step():
    lazy = trainer(TrainConfig(steps=8, batch_size=8, log_every=1, r1_gamma=1.0, reg_every=4)).fit()
    assert [row["step"] for row in lazy.history if "r1" in row] == [4.0, 8.0]
    eager = trainer(TrainConfig(steps=3, batch_size=8, log_every=1, r1_gamma=1.0, r2_gamma=0.5)).fit()
    assert all("r1" in row and "r2" in row for row in eager.history)


def test_a_penalty_changes_the_run():
    plain = trainer(TrainConfig(steps=3, batch_size=8))
    plain.fit()
    penalised = trainer(TrainConfig(steps=3, batch_size=8, r1_gamma=10.0))
    penalised.fit()
    assert not torch.equal(plain.system.modules["discriminator"].state_dict()["net.0.weight"],
                           penalised.system.modules["discriminator"].state_dict()["net.0.weight"])  # fmt: skip


def test_ada_logs_p_keeps_it_in_the_checkpoint_and_resumes_bitwise(tmp_path):
    cfg = TrainConfig(steps=12, batch_size=8, log_every=2, checkpoint_every=4)
    ada = AugmentConfig(policy=("translation",), ada=True, ada_interval=2, ada_kimg=0.05, ada_target=0.2)
    whole = trainer(cfg, ada)
    result = whole.fit()
    assert whole.system.ada.p > 0 and "ada_p" in result.history[-1]  # type: ignore[union-attr]
    ckpt = tmp_path / "ckpt.pt"
    with pytest.raises(SimulatedKillError):
        trainer(cfg, ada, ckpt, Hooks(on_log=kill_at(11))).fit()
    saved = load_checkpoint(ckpt)[0]
    assert saved["step"] == 8 and saved["system"]["ada"]["p"] > 0  # p as it was at step 8, not 0
    resumed = trainer(cfg, ada, ckpt)
    resumed.fit()
    assert_same(whole, resumed)
    assert resumed.system.ada.p == whole.system.ada.p  # type: ignore[union-attr]


def test_lazy_r1_with_diffaugment_and_rpgan_resumes_bitwise(tmp_path):
    cfg = TrainConfig(steps=10, batch_size=8, log_every=2, checkpoint_every=3, loss="rpgan", r1_gamma=1.0,
                      r2_gamma=1.0, reg_every=4)  # fmt: skip
    policy = AugmentConfig(policy=("color", "translation", "cutout"))
    whole = trainer(cfg, policy)
    whole.fit()
    ckpt = tmp_path / "ckpt.pt"
    with pytest.raises(SimulatedKillError):
        trainer(cfg, policy, ckpt, Hooks(on_log=kill_at(8))).fit()
    resumed = trainer(cfg, policy, ckpt)
    resumed.fit()
    assert_same(whole, resumed)


def test_augmentation_reaches_d():
    cfg = TrainConfig(steps=3, batch_size=8)
    plain, augmented = trainer(cfg), trainer(cfg, AugmentConfig(policy=("translation",)))
    plain.fit()
    augmented.fit()
    d = "discriminator"
    assert not torch.equal(plain.system.modules[d].state_dict()["net.0.weight"],
                           augmented.system.modules[d].state_dict()["net.0.weight"])  # fmt: skip


SPEC = {"dataset": "mnist", "model": {"generator": {"arch": "dcgan"}, "discriminator": {"arch": "dcgan"}}}


@pytest.mark.parametrize(
    ("spec", "train", "message"),
    [
        ({"augment": {"policy": ["colour"]}}, {}, r"^variants\.v\.augment: policy: unknown augmentation 'colour'; known: color, translation, cutout, xflip"),
        ({"augment": {"ada": True, "ada_target": 1.5}}, {}, r"^variants\.v\.augment: .*ada_target must be between 0 and 1"),
        ({"augment": {"ada": True, "ada_interval": 0}}, {}, r"^variants\.v\.augment: .*ada_interval must be 1 or more"),
        ({}, {"r1_gamma": -1.0}, r"^variants\.v\.train: .*r1_gamma and r2_gamma must be 0 or more"),
        ({}, {"reg_every": 0}, r"^variants\.v\.train: .*reg_every must be 1 or more"),
        ({"system": {"kind": "pix2pix"}, "augment": {"ada": True}}, {}, r"^variants\.v\.augment: a pix2pix system takes a policy, not ada$"),
        ({"system": {"kind": "cyclegan"}, "augment": {"policy": ["color"]}}, {}, r"^variants\.v\.augment: a cyclegan system does not augment"),
        ({"system": {"kind": "cyclegan"}}, {"loss": "rpgan"}, r"^variants\.v\.train: a cyclegan system cannot train with loss rpgan$"),
    ],
)  # fmt: skip
def test_bad_settings_are_one_line_errors(spec, train, message):
    with pytest.raises(ConfigError, match=message) as caught:
        resolve_variant("v", {**SPEC, **spec, "train": train}, {}, "", table=SYSTEM_OPTIONS)
    assert "\n" not in str(caught.value)


def test_pix2pix_discriminator_sees_augmented_pairs_and_resumes_bitwise(tmp_path):
    from tests.runs import build, tiny_variant

    def run(augment: dict | None, checkpoint: Path | None = None, hooks: Hooks | None = None) -> Trainer:
        variant, data = tiny_variant("pix2pix_edges2emoji64", steps=6, checkpoint_every=2, log_every=1)
        if augment is not None:
            variant = replace(variant, augment=AugmentConfig(**augment))
        built, random = build(variant, data)
        return Trainer(built.system, built.sampler, random, variant.train, "fp", checkpoint, hooks)

    plain, augmented = run(None), run({"policy": ("translation", "cutout")})
    plain.fit()
    augmented.fit()
    d = "discriminator"
    assert not torch.equal(*(t.system.modules[d].state_dict()["net.0.weight"] for t in (plain, augmented)))
    ckpt = tmp_path / "ckpt.pt"
    with pytest.raises(SimulatedKillError):
        run({"policy": ("translation", "cutout")}, ckpt, Hooks(on_log=kill_at(5))).fit()
    resumed = run({"policy": ("translation", "cutout")}, ckpt)
    resumed.fit()
    assert_same(augmented, resumed)


def test_top_k_fraction_falls_linearly_to_nu_and_stays():
    """Top-k lives in the gan system's options: the fraction at absolute step `at` (1-based)."""
    system = trainer(TrainConfig(batch_size=8), options=GanOptions(top_k=0.5, top_k_end=10)).system
    assert [system.kept(at) for at in (1, 6, 11, 101)] == [1.0, 0.75, 0.5, 0.5]
    assert trainer(TrainConfig(batch_size=8), options=GanOptions(top_k=0.6)).system.kept(1) == 0.6
    assert trainer(TrainConfig(batch_size=8)).system.kept(10**6) == 1.0
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match="top_k must be in"):
            GanOptions(top_k=bad)
