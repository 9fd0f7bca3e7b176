"""The training loop: it runs every quick variant without NaN, and a run interrupted at any
step and resumed from its checkpoint ends with bitwise the same weights (on the CPU)."""

from pathlib import Path

import pytest
import torch
import yaml

from ganforge.config import from_dict
from ganforge.data.prepared import PreparedDataset
from ganforge.losses import get_loss
from ganforge.nets import DataShape, ModelConfig, NetConfig, build_discriminator, build_generator
from ganforge.train import BatchSampler, GanSystem, Hooks, RunRandom, TrainConfig, Trainer
from ganforge.train import device as device_module
from ganforge.train.batches import fit_images
from ganforge.train.device import resolve_placement
from pipeline.params import compose
from pipeline.train import TrainingData, build_setup
from pipeline.variants import ResolvedVariant, VariantSpec
from tests.project import ROOT

CPU = torch.device("cpu")


def make_trainer(
    shape: DataShape,
    model: ModelConfig,
    cfg: TrainConfig,
    seed: int = 0,
    checkpoint: Path | None = None,
    hooks: Hooks | None = None,
    n: int = 96,
    amp_dtype: torch.dtype | None = None,
) -> Trainer:
    random = RunRandom(seed, CPU)
    g, d = build_generator(model, shape), build_discriminator(model, shape)
    system = GanSystem(g, d, get_loss(cfg.loss), cfg, CPU, random.noise, amp_dtype)
    data_gen = torch.Generator().manual_seed(123)
    if shape.kind == "images":
        data = torch.randint(
            0, 256, (n, shape.channels, shape.size, shape.size), dtype=torch.uint8, generator=data_gen
        )
    else:
        data = torch.randn(n, shape.dim, generator=data_gen)
    labels = torch.arange(n) % shape.classes if shape.classes else None
    sampler = BatchSampler(data, labels, cfg.batch_size, random.data, CPU)
    return Trainer(system, sampler, random, cfg, "fp", checkpoint, hooks)


def full_profile() -> dict:
    """params.yaml as the full profile composes it: every variant the project defines."""
    return yaml.safe_load(compose(ROOT, ["profile=full"]))


FULL = full_profile()


def tiny_data(spec: VariantSpec, dataset: dict, n: int = 200) -> TrainingData:
    """Random data of the variant's dataset's shape, 10 classes."""
    gen = torch.Generator().manual_seed(5)
    labels = torch.arange(n) % 10
    names = [str(i) for i in range(10)]
    if dataset["source"] == "toy2d":
        ds = PreparedDataset(
            "toy", "points", {"points": torch.randn(n, 2, generator=gen), "labels": labels}, names
        )
        x = ds.points
        shape = DataShape("points", dim=2, classes=10 if spec.conditional else 0)
    else:
        channels, size = (1, 28) if dataset["source"] in ("mnist", "fashion_mnist") else (3, 32)
        images = torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8, generator=gen)
        ds = PreparedDataset("img", "images", {"images": images, "labels": labels}, names)
        size = spec.image_size or size
        x = fit_images(images, size)
        shape = DataShape("images", channels, size, classes=10 if spec.conditional else 0)
    return TrainingData(x, labels if spec.conditional else None, shape, ds)


@pytest.mark.parametrize("name", sorted(FULL["run"]["variants"]))
def test_every_variant_trains_a_few_steps_without_nan(name):
    """Each variant of the full profile (the quick and smoke ones are among them), through the
    train stage's own set-up, with a small batch, RGB at 32x32 and DCGAN widths of 16 (the
    composition of parts is under test, not the scale): finite losses and weights."""
    spec = from_dict(VariantSpec, FULL["variants"][name], name)
    for net in ("generator", "discriminator"):
        if spec.model.get(net, {}).get("arch") == "dcgan":
            spec.model[net] = {**spec.model[net], "width": 16}
    cfg = from_dict(
        TrainConfig,
        {**FULL["train"], **spec.train, "steps": 3, "batch_size": 8, "log_every": 1, "device": "cpu"},
        name,
    )
    variant = ResolvedVariant(
        name, spec.dataset, "", spec.conditional, spec.image_size, spec.system, spec.labelled,
        spec.test_fraction, 3, from_dict(ModelConfig, spec.model, name), cfg, "full", "test",
    )  # fmt: skip
    data = tiny_data(spec, FULL["datasets"][spec.dataset])
    random = RunRandom(0, CPU)
    setup = build_setup(variant, data, resolve_placement("cpu", "off", "off", False), random, 0)
    result = Trainer(setup.system, setup.sampler, random, cfg, "fp").fit()
    assert len(result.history) == 3
    for row in result.history:
        assert all(torch.isfinite(torch.tensor(v)) for v in row.values()), row
    for module in setup.system.modules.values():
        assert all(torch.isfinite(p).all() for p in module.parameters())
    if setup.after is not None:
        report = setup.after()["semi_supervised"]
        assert report["labelled"] == 100 and 0.0 <= report["test_error"] <= 1.0


def small_setup():
    shape = DataShape("images", 1, 16, classes=4)
    net = NetConfig("dcgan", 4, dropout=0.2)
    return shape, ModelConfig(8, net, net)


def weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    out = {f"{k}.{n}": t for k, m in trainer.system.modules.items() for n, t in m.state_dict().items()}
    out.update({f"ema.{n}": t for n, t in trainer.ema.module.state_dict().items()})
    for k, opt in trainer.system.optimizers.items():
        for i, st in opt.state_dict()["state"].items():
            out.update({f"opt.{k}.{i}.{n}": t for n, t in st.items() if torch.is_tensor(t)})
    return out


class SimulatedKillError(Exception):
    pass


@pytest.mark.parametrize(("stop_at", "amp_dtype"), [(3, None), (5, None), (8, None), (5, torch.bfloat16)])
def test_resume_after_an_interrupt_is_bitwise_identical(tmp_path, stop_at, amp_dtype):
    shape, model = small_setup()
    cfg = TrainConfig(steps=10, batch_size=8, log_every=3, checkpoint_every=2, d_steps=2, real_label=0.9)
    uninterrupted = make_trainer(shape, model, cfg, amp_dtype=amp_dtype)
    result = uninterrupted.fit()

    def kill(step, row):  # dies after logging, before the step's checkpoint is written
        if step >= stop_at:
            raise SimulatedKillError

    ckpt = tmp_path / "ckpt.pt"
    with pytest.raises(SimulatedKillError):
        make_trainer(shape, model, cfg, checkpoint=ckpt, hooks=Hooks(on_log=kill), amp_dtype=amp_dtype).fit()
    resumed = make_trainer(shape, model, cfg, checkpoint=ckpt, amp_dtype=amp_dtype)
    resumed_result = resumed.fit()
    assert 0 < resumed_result.resumed_from < stop_at + 1
    a, b = weights(uninterrupted), weights(resumed)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])]
    timeless = [
        [{k: v for k, v in row.items() if k != "images_per_s"} for row in h]
        for h in (resumed_result.history, result.history)
    ]
    assert timeless[0] == timeless[1]


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


def test_same_seed_same_weights_other_seed_other_weights():
    shape, model = small_setup()
    cfg = TrainConfig(steps=3, batch_size=8, log_every=3)
    a, b, c = (make_trainer(shape, model, cfg, seed=s) for s in (1, 1, 2))
    for t in (a, b, c):
        t.fit()
    wa, wb, wc = weights(a), weights(b), weights(c)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)


def test_a_checkpoint_of_another_config_is_not_resumed(tmp_path):
    shape, model = small_setup()
    ckpt = tmp_path / "ckpt.pt"
    make_trainer(shape, model, TrainConfig(steps=4, batch_size=8, log_every=2), checkpoint=ckpt).fit()
    trainer = make_trainer(shape, model, TrainConfig(steps=4, batch_size=8, log_every=2), checkpoint=ckpt)
    trainer.fingerprint = "another"
    assert trainer.fit().resumed_from == 0


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
    make_trainer(shape, model, cfg, hooks=Hooks(on_grid=lambda step, g: steps.append(step))).fit()
    assert steps == [3, 6, 7]
