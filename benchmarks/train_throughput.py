"""Training throughput: ganforge's trainer against a plain PyTorch loop, in the same run.

Each side is timed `--repeats` times, interleaved, and the medians are compared. The plain
loop is the pytorch/examples DCGAN recipe (Adam(0.5, 0.999), BCE on sigmoid
outputs, one fake batch per iteration reused for G's step), with the same nets written out
here, fed from an in-memory float tensor (its most favourable case). ganforge runs the same
architectures through `Trainer` + `GanSystem` (EMA on, as in the pipeline). Both are timed
over the same number of iterations after a warm-up; the last line printed is JSON with the
images per second of each and ganforge / plain (above 1: ganforge is faster). `ratio`
compares both in fp32; `ratio_default` times ganforge as a run gets it by default (`amp`
"auto": bf16 autocast on CUDA, or on a CPU with native bf16), against the same fp32 loop;
`ratio_compiled` times ganforge with `train.compile` (torch.compile, inductor) at the default
precision, after its warm-up, and `compile_seconds` is what the warm-up (the compilation)
cost once: divide it by the per-step saving to see how many steps a run needs to gain.
The `dcgan32_augment` row times ganforge's DCGAN at 32x32 (fp32) plain, with DiffAugment's
policy (colour, translation, cutout on every image D sees) and with ADA at p = 0.5, and
prints what augmentation adds to a step (`diffaugment_cost`: 0.10 is 10% slower).

    python benchmarks/train_throughput.py            # DCGAN 64x64 width 64 batch 64, and MLP
    python benchmarks/train_throughput.py --steps 50 --device cuda
    python benchmarks/train_throughput.py --only dcgan32_augment --no-compile
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from torch import nn

from ganforge.augment.config import AugmentConfig
from ganforge.core.batches import BatchSampler
from ganforge.core.device import resolve_placement
from ganforge.core.seeds import RunRandom
from ganforge.losses import get_loss
from ganforge.nets.config import DataShape, ModelConfig, NetConfig
from ganforge.nets.registry import build_discriminator, build_generator
from ganforge.systems.gan import GanSystem
from ganforge.train.config import TrainConfig
from ganforge.train.loop import Trainer


# -- the plain loop's nets, written out as in pytorch/examples/dcgan ---------------------------
class PlainDCGANGenerator(nn.Module):
    def __init__(self, nz: int = 100, ngf: int = 64, nc: int = 3) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 8),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z.view(z.shape[0], -1, 1, 1))


class PlainDCGANDiscriminator(nn.Module):
    def __init__(self, ndf: int = 64, nc: int = 3) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 8),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).view(-1)


class PlainMLPGenerator(nn.Module):
    def __init__(self, nz: int = 100) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Linear(nz, 128),
            nn.LeakyReLU(0.2),
            nn.Linear(128, 256),
            nn.BatchNorm1d(256),
            nn.LeakyReLU(0.2),
            nn.Linear(256, 512),
            nn.BatchNorm1d(512),
            nn.LeakyReLU(0.2),
            nn.Linear(512, 1024),
            nn.BatchNorm1d(1024),
            nn.LeakyReLU(0.2),
            nn.Linear(1024, 784),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z).view(-1, 1, 28, 28)


class PlainMLPDiscriminator(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Linear(784, 512),
            nn.LeakyReLU(0.2),
            nn.Linear(512, 256),
            nn.LeakyReLU(0.2),
            nn.Linear(256, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x.flatten(1)).view(-1)


def weights_init(m: nn.Module) -> None:
    name = m.__class__.__name__
    if name.find("Conv") != -1:
        nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif name.find("BatchNorm") != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0)


def plain_loop(
    net_g: nn.Module,
    net_d: nn.Module,
    data: torch.Tensor,
    steps: int,
    batch: int,
    nz: int,
    device: torch.device,
) -> float:
    """The reference recipe; returns seconds for `steps` iterations."""
    criterion = nn.BCELoss()
    opt_d = torch.optim.Adam(net_d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(net_g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real_label, fake_label = 1.0, 0.0
    order = torch.randperm(len(data), device=device)
    start = None
    for i in range(steps + WARMUP):
        if i == WARMUP:
            _sync(device)
            start = time.perf_counter()
        idx = order[(i * batch) % (len(data) - batch) :][:batch]
        real = data[idx]
        net_d.zero_grad()
        label = torch.full((batch,), real_label, device=device)
        err_d_real = criterion(net_d(real), label)
        err_d_real.backward()
        fake = net_g(torch.randn(batch, nz, device=device))
        label.fill_(fake_label)
        err_d_fake = criterion(net_d(fake.detach()), label)
        err_d_fake.backward()
        opt_d.step()
        net_g.zero_grad()
        label.fill_(real_label)
        err_g = criterion(net_d(fake), label)
        err_g.backward()
        opt_g.step()
    _sync(device)
    return time.perf_counter() - start


def ganforge_loop(
    shape: DataShape,
    model: ModelConfig,
    data: torch.Tensor,
    steps: int,
    batch: int,
    device: torch.device,
    amp: str = "off",
    compile_nets: bool = False,
    warmups: list[float] | None = None,
    augment: AugmentConfig | None = None,
) -> float:
    """The same architectures through ganforge's trainer; returns seconds for `steps` iterations
    (a warm-up run first, then a timed `Trainer.fit` on the warmed-up system). `amp` "off"
    trains in fp32 like the reference; "auto" is what a run gets by default. With
    `compile_nets` the nets run through torch.compile; the warm-up's seconds go to `warmups`."""
    placement = resolve_placement(str(device), amp, amp, convolutional=model.generator.arch == "dcgan")
    random = RunRandom(0, placement.device)
    g, d = build_generator(model, shape), build_discriminator(model, shape)
    if placement.channels_last:
        g.to(memory_format=torch.channels_last)
        d.to(memory_format=torch.channels_last)
    cfg = TrainConfig(steps=steps, batch_size=batch, log_every=10_000, checkpoint_every=10_000)
    system = GanSystem(
        g, d, get_loss("ns"), cfg, placement.device, random.noise, placement.amp_dtype, augment
    )
    if compile_nets:
        torch._dynamo.reset()  # every repeat pays its own compilation
        system.wrap_nets(torch.compile)
    sampler = BatchSampler({"x": data}, batch, random.data, placement.device, placement.channels_last)
    warm = TrainConfig(steps=WARMUP, batch_size=batch, log_every=10_000, checkpoint_every=10_000)
    began = time.perf_counter()
    Trainer(system, sampler, random, warm, "warm-up").fit()
    _sync(device)
    if warmups is not None:
        warmups.append(time.perf_counter() - began)
    trainer = Trainer(system, sampler, random, cfg, "timed")
    _sync(device)
    start = time.perf_counter()
    trainer.fit()
    _sync(device)
    return time.perf_counter() - start


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


WARMUP = 3


def bench(
    name: str, steps: int, batch: int, device: torch.device, repeats: int, compiled: bool = True
) -> dict[str, float]:
    torch.manual_seed(0)
    if name == "dcgan64":
        shape = DataShape("images", 3, 64)
        model = ModelConfig(100, NetConfig("dcgan", 64), NetConfig("dcgan", 64))
        plain_g, plain_d = PlainDCGANGenerator().to(device), PlainDCGANDiscriminator().to(device)
        plain_g.apply(weights_init)
        plain_d.apply(weights_init)
    else:
        shape = DataShape("images", 1, 28)
        model = ModelConfig()
        plain_g, plain_d = PlainMLPGenerator().to(device), PlainMLPDiscriminator().to(device)
    n = batch * (steps + WARMUP + 1)
    uint8 = torch.randint(0, 256, (n, shape.channels, shape.size, shape.size), dtype=torch.uint8)
    floats = (uint8.float() / 127.5 - 1).to(device)
    auto = resolve_placement(str(device), "auto", "auto", convolutional=name == "dcgan64").precision
    plain_times, ours_times, auto_times, compiled_times = [], [], [], []
    eager_warmups: list[float] = []
    compile_warmups: list[float] = []
    for _ in range(repeats):  # interleaved, so a slow spell of the machine hits all of them
        plain_times.append(plain_loop(plain_g, plain_d, floats, steps, batch, 100, device))
        ours_times.append(ganforge_loop(shape, model, uint8, steps, batch, device))
        auto_times.append(
            ganforge_loop(shape, model, uint8, steps, batch, device, "auto", False, eager_warmups)
        )
        if compiled:
            compiled_times.append(
                ganforge_loop(shape, model, uint8, steps, batch, device, "auto", True, compile_warmups)
            )
    plain_ips = steps * batch / statistics.median(plain_times)
    ours_ips = steps * batch / statistics.median(ours_times)
    auto_ips = steps * batch / statistics.median(auto_times)
    print(
        f"{name}: plain fp32 {plain_ips:.1f} img/s, ganforge fp32 {ours_ips:.1f} img/s "
        f"(ratio {ours_ips / plain_ips:.3f}), ganforge default ({auto}) {auto_ips:.1f} img/s "
        f"(ratio {auto_ips / plain_ips:.3f})"
    )
    extra: dict[str, float] = {}
    if compiled:
        compiled_ips = steps * batch / statistics.median(compiled_times)
        compile_s = statistics.median(compile_warmups) - statistics.median(eager_warmups)
        saved = steps / auto_ips * batch - steps / compiled_ips * batch  # seconds saved per `steps`
        extra = {
            "ganforge_compiled_images_per_s": round(compiled_ips, 2),
            "ratio_compiled": round(compiled_ips / plain_ips, 4),
            "compiled_vs_default": round(compiled_ips / auto_ips, 4),
            "compile_seconds": round(compile_s, 2),
            "steps_to_pay_back": round(compile_s / (saved / steps)) if saved > 0 else None,
        }
        print(
            f"{name}: ganforge compiled ({auto}) {compiled_ips:.1f} img/s "
            f"(ratio {compiled_ips / plain_ips:.3f}, "
            f"{compiled_ips / auto_ips:.3f}× eager), compiling took {compile_s:.1f} s"
        )
    return {
        "plain_images_per_s": round(plain_ips, 2),
        "ganforge_images_per_s": round(ours_ips, 2),
        "ratio": round(ours_ips / plain_ips, 4),
        "default_precision": auto,
        "ganforge_default_images_per_s": round(auto_ips, 2),
        "ratio_default": round(auto_ips / plain_ips, 4),
        **extra,
        "repeats": repeats,
    }


def bench_augment(steps: int, batch: int, device: torch.device, repeats: int) -> dict[str, float]:
    """ganforge's DCGAN at 32x32, fp32: plain, with DiffAugment's policy, with ADA at p = 0.5."""
    torch.manual_seed(0)
    shape = DataShape("images", 3, 32)
    model = ModelConfig(100, NetConfig("dcgan", 64), NetConfig("dcgan", 64))
    uint8 = torch.randint(0, 256, (batch * (steps + WARMUP + 1), 3, 32, 32), dtype=torch.uint8)
    policy = AugmentConfig(policy=("color", "translation", "cutout"))
    ada = AugmentConfig(ada=True, ada_p=0.5, ada_kimg=1e9)  # p stays at 0.5
    times: dict[str, list[float]] = {"plain": [], "diffaugment": [], "ada": []}
    for _ in range(repeats):  # interleaved
        for key, cfg in (("plain", None), ("diffaugment", policy), ("ada", ada)):
            times[key].append(ganforge_loop(shape, model, uint8, steps, batch, device, augment=cfg))
    ips = {k: steps * batch / statistics.median(v) for k, v in times.items()}
    cost = ips["plain"] / ips["diffaugment"] - 1
    print(
        f"dcgan32_augment: ganforge fp32 {ips['plain']:.1f} img/s, with DiffAugment {ips['diffaugment']:.1f} "
        f"img/s ({cost:+.1%} a step), with ADA at p=0.5 {ips['ada']:.1f} img/s"
    )
    return {
        "ganforge_images_per_s": round(ips["plain"], 2),
        "diffaugment_images_per_s": round(ips["diffaugment"], 2),
        "ada_images_per_s": round(ips["ada"], 2),
        "diffaugment_cost": round(cost, 4),
        "ada_cost": round(ips["plain"] / ips["ada"] - 1, 4),
        "repeats": repeats,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--steps", type=int, default=0, help="iterations timed (default: 10 on CPU, 200 on CUDA)"
    )
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--only", choices=["dcgan64", "mlp", "dcgan32_augment"], default=None)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved timings; medians are compared")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile timing")
    args = parser.parse_args()
    device = torch.device(
        "cuda"
        if args.device == "auto" and torch.cuda.is_available()
        else ("cpu" if args.device == "auto" else args.device)
    )
    results = {"device": str(device), "threads": torch.get_num_threads()}
    for name in [args.only] if args.only else ["dcgan64", "mlp", "dcgan32_augment"]:
        steps = args.steps or (200 if device.type == "cuda" else (200 if name == "mlp" else 10))
        rows = (
            bench_augment(steps, args.batch, device, args.repeats)
            if name == "dcgan32_augment"
            else bench(name, steps, args.batch, device, args.repeats, not args.no_compile)
        )
        results[name] = {"steps": steps, "batch": args.batch, **rows}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
