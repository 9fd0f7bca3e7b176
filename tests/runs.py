"""Tiny runs for the tests of the engine, the systems and serving: every variant of the full
profile on random data of its dataset's shape, nets at width 8, a few steps; and what the
resume tests need (a simulated kill, a weight-by-weight comparison). A helper module, not
a test module: tests import it, never each other."""

from __future__ import annotations

from dataclasses import replace

import torch
import yaml

from ganforge.core.device import resolve_placement
from ganforge.core.seeds import RunRandom
from ganforge.data.prepared import PreparedDataset, heldout_mask
from ganforge.systems.kind import RunSetup
from ganforge.systems.registry import SYSTEM_OPTIONS, get_system
from ganforge.train.loop import Trainer
from ganforge.variants import Variant, resolve_variant
from pipeline.params import compose
from tests.project import ROOT

CPU = torch.device("cpu")
FP32 = resolve_placement("cpu", "off", "off", False)


def full_profile() -> dict:
    """params.yaml as the full profile composes it: every variant the project defines."""
    return yaml.safe_load(compose(ROOT, ["profile=full"]))


FULL = full_profile()
NAMES = [str(i) for i in range(10)]


def tiny_dataset(source: str, n: int = 60) -> PreparedDataset:
    """Random data of the shape a source gives, 10 classes (a few images at 32 px)."""
    gen = torch.Generator().manual_seed(5)
    labels = torch.arange(n) % 10

    def images(channels: int, size: int = 32) -> torch.Tensor:
        return torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8, generator=gen)

    if source == "toy2d":
        return PreparedDataset(
            "toy", "points", {"points": torch.randn(n, 2, generator=gen), "labels": labels}, NAMES
        )
    if source in ("mnist", "fashion_mnist"):
        return PreparedDataset("img", "images", {"images": images(1, 28), "labels": labels}, NAMES)
    if source in ("edges", "pix2pix"):
        tensors = {"a": images(1), "b": images(3), "heldout": heldout_mask(n, 0.1, 0)}
        return PreparedDataset("pairs", "paired", tensors, [])
    if source in ("recolor", "cyclegan"):
        tensors = {"a": images(1, 28), "b": images(3, 28)}
        tensors |= {"heldout_a": heldout_mask(n, 0.1, 0), "heldout_b": heldout_mask(n, 0.1, 1)}
        return PreparedDataset("unpaired", "unpaired", tensors, [])
    return PreparedDataset("img", "images", {"images": images(3), "labels": labels}, NAMES)


def small(spec: dict) -> dict:
    """The variant's spec with its conv nets at width 8 (the composition is under test)."""
    model = dict(spec.get("model") or {})
    for net in ("generator", "discriminator"):
        if model.get(net, {}).get("arch") in ("dcgan", "progan", "unet", "resnet", "patchgan"):
            model[net] = {**model[net], "width": 8}
    return {**spec, "model": model, "image_size": spec.get("image_size") if "image_size" in spec else None}


def tiny_variant(
    name: str, system: dict[str, object] | None = None, **train: object
) -> tuple[Variant, PreparedDataset]:
    """Variant `name` of the full profile at test size: `train` overrides its training
    options, `system` its system's own options."""
    spec = small(FULL["variants"][name])
    data = tiny_dataset(FULL["datasets"][spec["dataset"]]["source"])
    if "system" in spec and spec["system"].get("kind") == "semi_supervised":
        spec["system"] = {**spec["system"], "labelled": 20, "baseline_steps": 3}
    if system:
        spec["system"] = {**(spec.get("system") or {}), **system}
    overrides = {"steps": 3, "batch_size": 4, "log_every": 1, "device": "cpu", "eval_every": 0, **train}
    variant = resolve_variant(name, spec, {**FULL["train"], **overrides}, "", table=SYSTEM_OPTIONS)
    return replace(variant, train=replace(variant.train, **overrides)), data


def build(variant: Variant, data: PreparedDataset, seed: int = 0, placement=FP32):
    random = RunRandom(seed, CPU)
    built = get_system(variant.kind).build(RunSetup(variant, data, placement, random, seed))
    return built, random


def weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    out = {f"{k}.{n}": t for k, m in trainer.system.modules.items() for n, t in m.state_dict().items()}
    for name, ema in trainer.emas.items():
        out.update({f"ema.{name}.{n}": t for n, t in ema.module.state_dict().items()})
    for k, opt in trainer.system.optimizers.items():
        for i, st in opt.state_dict()["state"].items():
            out.update({f"opt.{k}.{i}.{n}": t for n, t in st.items() if torch.is_tensor(t)})
    return out


class SimulatedKillError(Exception):
    pass


def kill_at(stop_at: int):
    def kill(step, row):  # dies after logging, before the step's checkpoint is written
        if step >= stop_at:
            raise SimulatedKillError

    return kill


def assert_same(a: Trainer, b: Trainer) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa), [k for k in wa if not torch.equal(wa[k], wb[k])]
