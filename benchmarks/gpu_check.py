"""GPU check: the smoke profile, DCGAN training speed, a 1-process NCCL launch and feature
extraction on one CUDA GPU, within a time budget, into one JSON file.

On a machine with a CUDA GPU (and no network) it runs, in this order, each phase time-boxed
by `--budget-s`:

- `probes`: the CUDA-only branches that a direct call reaches (device and evaluation device
  "auto", bf16 on CUDA, translating in train mode with the CUDA RNG forked);
- `smoke`: the smoke profile through DVC (`python -m pipeline params profile=smoke
  train.device=cuda`, then `dvc repro`, then `.ci/check_smoke.py`) in a throw-away copy of
  the project, on the offline mirror (`--mirror`, else GANFORGE_DATA_MIRROR, else
  ../shared/datasets), as `.ci/run` does on the CPU;
- `ddp`: `torch.distributed.run` (the command `pipeline train` launches itself with) starting
  one NCCL worker on `cuda:LOCAL_RANK`, its nets wrapped in DDP with SyncBatchNorm; it trains,
  checkpoints (with the CUDA RNG state), resumes and trains on;
- `features`: images/s of the FID Inception (the real weights where they are found, else its
  exact layout with random weights) and of a domain classifier, fp32 and the default route;
- `train`: dcgan_emoji64's nets (conf/config.yaml, built by the nets registry) at 64 px,
  trained by ganforge's Trainer in fp32, in bf16 autocast and compiled (torch.compile) in
  bf16, against a plain pytorch/examples-style loop over the same nets, batch and size,
  measured in the same run (median of 3 timings of `--steps` each): `ratio` is ganforge /
  the plain loop in fp32, `ratio_same_precision` against the plain loop in the same precision.

The JSON (`--out`, default gpu_check.json here) holds every figure, the device, the torch,
CUDA, cuDNN and NCCL versions, and `cuda_branches`: each CUDA-only branch of src/ and
pipeline/, whether this run reached it and the evidence. Exit status 0 when every phase
passed and every reachable branch was reached, 1 otherwise (the JSON is written either way),
2 when it refuses: no CUDA device (nothing is written), or a bad option.

    python benchmarks/gpu_check.py                       # about 8 minutes at most
    benchmarks/gpu_check.sh --steps 100 --budget-s 600 --out /tmp/gpu_check.json
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
import torch.distributed as dist
import yaml
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ganforge.core.batches import BatchSampler
from ganforge.core.device import image_precision, machine, resolve_placement
from ganforge.core.io import write_json
from ganforge.core.seeds import RunRandom
from ganforge.losses import get_loss
from ganforge.nets.config import DataShape, ImagePair, ModelConfig, NetConfig
from ganforge.nets.registry import build_discriminator, build_generator, build_translator
from ganforge.runner import net_wrapper
from ganforge.systems.gan import GanSystem
from ganforge.systems.registry import SYSTEM_OPTIONS
from ganforge.train.config import TrainConfig
from ganforge.train.distributed import (
    DistributedConfig,
    Group,
    check_plan,
    launch_command,
    launched,
    process_group,
)
from ganforge.train.loop import Trainer
from ganforge.variants import resolve_variant

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
PROG = "gpu_check"
REFUSAL = (
    f"{PROG}: no CUDA device (torch.cuda.is_available() is False); run it on a machine with one CUDA GPU"
)
VARIANT = "dcgan_emoji64"
DEFAULT_STEPS = 200
DEFAULT_BUDGET_S = 450.0  # the whole check, within 8 minutes with the start-up
MIN_BUDGET_S = 30.0
WARMUP = 3  # untimed steps before each timing
ROUNDS = 3  # timings per mode; the median is kept
SMOKE_MIN_S = 60.0  # less than this left for the smoke profile: skipped
AFTER_SMOKE_S = 150.0  # kept back from the smoke profile for the phases after it
DDP_MAX_S = 180.0
COMPILE_MIN_S = 90.0  # left before the compiled timing starts, else it is skipped
FEATURE_IMAGES = 2000
TAIL_LINES = 25
CHECK_SMOKE = ROOT / ".ci" / "check_smoke.py"


# -- options -----------------------------------------------------------------------------------
class OneLineParser(argparse.ArgumentParser):
    """argparse whose errors are one line on stderr (exit 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{PROG}: {message}\n")
        sys.exit(2)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of 1 or more, got {text!r}")
    return value


def budget_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not MIN_BUDGET_S <= value < float("inf"):
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds, {MIN_BUDGET_S:g} or more, got {text!r}"
        )
    return value


def folder(text: str) -> Path:
    path = Path(text).expanduser()
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is not a folder")
    return path.resolve()


def out_file(text: str) -> Path:
    path = Path(text).expanduser()
    if not text or path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is not a file name to write the JSON to")
    return path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = OneLineParser(prog=PROG, description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--out", type=out_file, default=Path("gpu_check.json"), help="the JSON written")
    parser.add_argument("--steps", type=positive_int, default=DEFAULT_STEPS, help="timed training steps")
    parser.add_argument(
        "--budget-s", type=budget_seconds, default=DEFAULT_BUDGET_S, help="time for the whole check"
    )
    parser.add_argument("--mirror", type=folder, default=None, help="the offline dataset mirror")
    parser.add_argument("--ddp-worker", type=Path, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def default_mirror() -> Path:
    """GANFORGE_DATA_MIRROR, else ../shared/datasets beside the project (as .ci/run)."""
    chosen = os.environ.get("GANFORGE_DATA_MIRROR")
    return Path(chosen).expanduser().resolve() if chosen else ROOT.parent / "shared" / "datasets"


# -- small helpers -------------------------------------------------------------------------------
@dataclass
class Budget:
    """The check's time guard: every phase is given what is left, less what later phases need."""

    total_s: float
    began: float = field(default_factory=time.perf_counter)

    def elapsed(self) -> float:
        return time.perf_counter() - self.began

    def left(self) -> float:
        return self.total_s - self.elapsed()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_rate(images: int, seconds: list[float]) -> float:
    return round(images / statistics.median(seconds), 1)


def tail(text: str, lines: int = TAIL_LINES) -> list[str]:
    return text.splitlines()[-lines:]


def dig(report: dict[str, Any], path: str) -> Any:
    """report["a"]["b"]... for "a.b...", or None where a key is missing."""
    value: Any = report
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def write_report(path: Path, report: dict[str, Any]) -> None:
    """The report as JSON, atomically (a value JSON cannot hold is written as its str)."""
    write_json(path, json.loads(json.dumps(report, default=str)))


@contextlib.contextmanager
def count_calls(owner: Any, name: str) -> Iterator[list[int]]:
    """Count the calls of `owner.name` within the block (evidence that a branch ran)."""
    original = getattr(owner, name)
    calls = [0]

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    setattr(owner, name, counted)
    try:
        yield calls
    finally:
        setattr(owner, name, original)


def benchmark_module(name: str) -> ModuleType:
    """A sibling script of benchmarks/ as a module (benchmarks/ is not a package)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@dataclass
class Finished:
    code: int | None
    out: str
    err: str
    seconds: float
    timed_out: bool


def run_boxed(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float) -> Finished:
    """Run `cmd` in a session of its own; past `timeout` the whole session is killed."""
    began = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=max(timeout, 1.0))
        timed_out = False
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        timed_out = True
    return Finished(proc.returncode, out, err, round(time.perf_counter() - began, 1), timed_out)


# -- the DCGAN set-up -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Bench:
    """What every training measurement trains: nets, data shape, training config, batch."""

    model: ModelConfig
    shape: DataShape
    train: TrainConfig
    batch: int

    def images(self, count: int | None = None) -> torch.Tensor:
        """Random uint8 images of the shape (a fixed seed), on the CPU."""
        n = count or self.batch * 8
        size = (n, self.shape.channels, self.shape.size, self.shape.size)
        return torch.randint(0, 256, size, dtype=torch.uint8, generator=torch.Generator().manual_seed(0))

    def config(self, steps: int) -> TrainConfig:
        """The variant's training config for `steps` iterations, logging and saving at the end,
        not scored."""
        return replace(
            self.train,
            steps=steps,
            batch_size=self.batch,
            log_every=steps,
            checkpoint_every=steps,
            eval_every=0,
            stop_when=None,
        )


def dcgan_bench(root: Path = ROOT) -> Bench:
    """dcgan_emoji64 as conf/config.yaml defines it (no profile: 64 px, width 64, batch 64)."""
    conf = yaml.safe_load((root / "conf" / "config.yaml").read_text(encoding="utf-8"))
    spec = conf["variants"][VARIANT]
    variant = resolve_variant(VARIANT, spec, conf["train"], "", table=SYSTEM_OPTIONS)
    data = conf["datasets"][variant.dataset]
    shape = DataShape("images", int(data["channels"]), int(spec.get("image_size") or data["image_size"]))
    return Bench(variant.model, shape, variant.train, variant.train.batch_size)


@dataclass(frozen=True)
class Mode:
    name: str
    amp_dtype: torch.dtype | None
    channels_last: bool
    compiled: bool = False

    @property
    def precision(self) -> str:
        return "bf16 autocast" if self.amp_dtype is not None else "fp32"


MODES = (
    Mode("fp32", None, False),
    Mode("bf16", torch.bfloat16, True),  # what `amp: auto` gives a convolutional net on CUDA
    Mode("compiled_bf16", torch.bfloat16, True, compiled=True),
)

Compiler = Callable[[nn.Module], nn.Module]


@dataclass
class Run:
    system: GanSystem
    sampler: BatchSampler
    random: RunRandom
    device: torch.device


def build_run(bench: Bench, mode: Mode, device: torch.device, compiler: Compiler | None = None) -> Run:
    """ganforge's GAN system over the bench's nets in `mode`: the trainer's real path (compiled
    by `compiler`, default the library's own torch.compile wrapper, when the mode says so)."""
    random = RunRandom(0, device)
    g, d = build_generator(bench.model, bench.shape), build_discriminator(bench.model, bench.shape)
    if mode.channels_last:
        g.to(memory_format=torch.channels_last)
        d.to(memory_format=torch.channels_last)
    cfg = bench.config(1)
    system = GanSystem(g, d, get_loss(cfg.loss), cfg, device, random.noise, mode.amp_dtype)
    if mode.compiled:
        torch._dynamo.reset()  # every compiled run pays its own compilation
        system.wrap_nets(compiler or net_wrapper(None, True))  # type: ignore[arg-type]
    sampler = BatchSampler({"x": bench.images()}, bench.batch, random.data, device, mode.channels_last)
    return Run(system, sampler, random, device)


def fit_seconds(run: Run, bench: Bench, steps: int) -> float:
    """Seconds for `steps` iterations of the Trainer on `run` (synchronised)."""
    trainer = Trainer(run.system, run.sampler, run.random, bench.config(steps), PROG)
    sync(run.device)
    start = time.perf_counter()
    trainer.fit()
    sync(run.device)
    return time.perf_counter() - start


def ganforge_rate(run: Run, bench: Bench, steps: int, rounds: int) -> dict[str, float]:
    """images/s (median of `rounds` timings of `steps` iterations) after a warm-up, and what
    the warm-up cost (the compilation, for a compiled run)."""
    warmup = fit_seconds(run, bench, WARMUP)
    seconds = [fit_seconds(run, bench, steps) for _ in range(rounds)]
    return {"images_per_s": median_rate(steps * bench.batch, seconds), "warmup_s": round(warmup, 2)}


def reference_seconds(
    g: nn.Module, d: nn.Module, data: torch.Tensor, bench: Bench, steps: int, amp: torch.dtype | None
) -> float:
    """The pytorch/examples DCGAN loop (Adam, BCE, one fake batch reused for G's step; the
    forward passes under autocast when `amp` is given, contiguous memory) over `data` (floats
    on the device); seconds for `steps` iterations after WARMUP."""
    device, batch, cfg = data.device, bench.batch, bench.train
    criterion = nn.BCEWithLogitsLoss()  # ganforge's discriminators end in a logit
    opt_d = torch.optim.Adam(d.parameters(), lr=cfg.lr, betas=tuple(cfg.betas))
    opt_g = torch.optim.Adam(g.parameters(), lr=cfg.lr, betas=tuple(cfg.betas))
    real_t, fake_t = torch.ones(batch, device=device), torch.zeros(batch, device=device)
    order = torch.randperm(len(data), device=device)

    def autocast() -> torch.autocast:
        return torch.autocast(device.type, dtype=amp or torch.bfloat16, enabled=amp is not None)

    start = time.perf_counter()
    for i in range(WARMUP + steps):
        if i == WARMUP:
            sync(device)
            start = time.perf_counter()
        real = data[order[(i * batch) % (len(data) - batch) :][:batch]]
        d.zero_grad()
        with autocast():
            err_real = criterion(d(real).float(), real_t)
        err_real.backward()
        with autocast():
            fake = g(torch.randn(batch, bench.model.latent_dim, device=device))
            err_fake = criterion(d(fake.detach()).float(), fake_t)
        err_fake.backward()
        opt_d.step()
        g.zero_grad()
        with autocast():
            err_g = criterion(d(fake).float(), real_t)
        err_g.backward()
        opt_g.step()
    sync(device)
    return time.perf_counter() - start


def reference_rate(bench: Bench, device: torch.device, steps: int, rounds: int, mode: Mode) -> float:
    """images/s of the plain loop over fresh registry-built nets (median of `rounds`)."""
    torch.manual_seed(0)
    g = build_generator(bench.model, bench.shape).to(device)
    d = build_discriminator(bench.model, bench.shape).to(device)
    data = (bench.images().float() / 127.5 - 1).to(device)
    seconds = [reference_seconds(g, d, data, bench, steps, mode.amp_dtype) for _ in range(rounds)]
    return median_rate(steps * bench.batch, seconds)


def train_bench(
    bench: Bench,
    device: torch.device,
    steps: int,
    budget: Budget,
    rounds: int = ROUNDS,
    compiler: Compiler | None = None,
) -> dict[str, Any]:
    """The plain loop (fp32, bf16) and ganforge in every mode; the compiled mode only while
    COMPILE_MIN_S are left."""
    reference = {m.name: reference_rate(bench, device, steps, rounds, m) for m in MODES[:2]}
    rows: dict[str, Any] = {}
    for mode in MODES:
        if mode.compiled and budget.left() < COMPILE_MIN_S:
            rows[mode.name] = {"skipped": f"under {COMPILE_MIN_S:g} s of the budget left"}
            continue
        rate = ganforge_rate(build_run(bench, mode, device, compiler), bench, steps, rounds)
        same = reference["bf16" if mode.amp_dtype is not None else "fp32"]
        rows[mode.name] = {
            **rate,
            "precision": mode.precision,
            "ratio": round(rate["images_per_s"] / reference["fp32"], 3),
            "ratio_same_precision": round(rate["images_per_s"] / same, 3),
        }
    compiled, eager = rows.get("compiled_bf16", {}), rows.get("bf16", {})
    if "warmup_s" in compiled and "warmup_s" in eager:  # what the compilation cost, once
        compiled["compile_s"] = round(compiled["warmup_s"] - eager["warmup_s"], 2)
    return {
        "variant": VARIANT,
        "image_size": bench.shape.size,
        "width": bench.model.generator.width,
        "batch": bench.batch,
        "steps": steps,
        "rounds": rounds,
        "reference_images_per_s": reference,
        "ganforge": rows,
    }


def train_line(result: dict[str, Any]) -> str:
    ref = result["reference_images_per_s"]
    parts = [f"plain loop fp32 {ref['fp32']:.0f} img/s, bf16 {ref['bf16']:.0f}"]
    for name, row in result["ganforge"].items():
        if "images_per_s" in row:
            parts.append(f"ganforge {name} {row['images_per_s']:.0f} img/s ({row['ratio']:.2f}×)")
        else:
            parts.append(f"ganforge {name} skipped")
    return "train: " + "; ".join(parts)


# -- feature extraction ---------------------------------------------------------------------------
def extraction_rate(extract: Callable[[torch.Tensor], Any], images: torch.Tensor, warm: int) -> float:
    """images/s of an extractor over in-memory uint8 images (after `warm` images untimed);
    the features come back to the CPU, so the timing is synchronised."""
    extract(images[:warm])
    start = time.perf_counter()
    extract(images)
    return round(len(images) / (time.perf_counter() - start), 1)


def inception(device: str) -> tuple[Any, str]:
    """The FID Inception extractor: the real weights where they are found, else its exact
    layout with random weights (metrics_speed's; the speed does not depend on the values)."""
    from ganforge.metrics.features import InceptionExtractor, Unavailable, load_inception

    found = load_inception(download=False, device=device)
    if not isinstance(found, Unavailable):
        return found, "FID weights"
    state = benchmark_module("metrics_speed")._random_fid_inception_state()
    return InceptionExtractor(state, device), "random weights in the FID layout"


def route_rates(extractor: Any, images: torch.Tensor, warm: int) -> dict[str, float]:
    """images/s in fp32 and on the route the extractor was given (the default one)."""
    from ganforge.metrics.features import Route

    default = extractor.route
    rates = {default.precision: extraction_rate(extractor, images, warm)}
    extractor.route = Route()
    rates["fp32"] = extraction_rate(extractor, images, warm)
    extractor.route = default
    return rates


def domain_extractor(device: str, size: int, channels: int) -> Any:
    from ganforge.metrics.classifier import ClassifierConfig, DomainCNN
    from ganforge.metrics.features import DomainExtractor

    cfg = ClassifierConfig()
    model = DomainCNN(channels, 9, cfg.width, cfg.feature_dim)  # emoji64's 9 groups
    return DomainExtractor("domain:emoji64", model, size, channels, device)


def features_bench(device: str, bench: Bench, count: int = FEATURE_IMAGES) -> dict[str, Any]:
    """Inception (299 px, from the bench's images) and the domain classifier (native size)."""
    from ganforge.metrics.features import extraction_route

    images = bench.images(count)
    net, weights = inception(device)
    domain = domain_extractor(device, bench.shape.size, bench.shape.channels)
    return {
        "images": count,
        "image_size": bench.shape.size,
        "default_route": extraction_route(device).precision,
        "inception": {
            "weights": weights,
            "batch_size": net.batch_size,
            "images_per_s": route_rates(net, images, net.batch_size),
        },
        "domain_classifier": {
            "batch_size": domain.batch_size,
            "images_per_s": route_rates(domain, images, domain.batch_size),
        },
    }


# -- probes: the CUDA branches called directly ------------------------------------------------------
def device_rng(device: torch.device) -> torch.Tensor:
    return torch.cuda.get_rng_state(device) if device.type == "cuda" else torch.get_rng_state()


def translate_probe(device: torch.device) -> dict[str, Any]:
    """pix2pix's `translate` in train mode (dropout from a fixed seed) on `device`: it forks the
    device's RNG, so the device's RNG state is the same after as before."""
    from ganforge.systems.translation import translate

    net = build_translator(NetConfig("unet", width=8, dropout=0.5), ImagePair(3, 3, 64)).to(device)
    images = torch.randint(
        0, 256, (8, 3, 64, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    before = device_rng(device).clone()
    first = translate(net, images, 3, mode="train")
    second = translate(net, images, 3, mode="train")
    return {
        "device": str(next(net.parameters()).device),
        "device_rng_untouched": bool(torch.equal(before, device_rng(device))),
        "repeats": bool(torch.equal(first, second)),
    }


def streamed_batches_probe(device: torch.device) -> dict[str, Any]:
    """A streaming-format (memory-mapped) dataset's batches on `device`: the data stays in host
    memory and each batch goes through pinned memory (BatchSampler with `host`)."""
    import numpy as np

    from ganforge.core.batches import BatchSampler
    from ganforge.data.streaming import StreamWriter, open_stream

    with tempfile.TemporaryDirectory(prefix="gpu-check-stream-") as tmp:
        path = Path(tmp) / "stream.bin"
        with StreamWriter(path, (3, 8, 8)) as writer:
            writer.append(np.zeros((16, 3, 8, 8), dtype=np.uint8))
            writer.finish("probe", [])
        _, tensors = open_stream(path)
        sampler = BatchSampler(
            {"x": tensors["images"]}, 4, torch.Generator().manual_seed(0), device, host=True
        )
        with count_calls(torch.Tensor, "pin_memory") as pinned:
            batch = sampler.next()
        return {
            "data_device": str(sampler.tensors["x"].device),
            "batch_device": str(batch["x"].device),
            "pinned_copies": pinned[0],
        }


def probes(device: torch.device) -> dict[str, Any]:
    from ganforge.evaluation.common import Settings
    from ganforge.metrics.classifier import ClassifierConfig
    from ganforge.metrics.suite import EvalConfig

    auto = resolve_placement("auto", "auto", "auto", convolutional=True)
    return {
        "auto_device": str(auto.device),
        "auto_precision": image_precision(),
        "evaluation_device": Settings(EvalConfig(), ClassifierConfig()).device,
        "translate": translate_probe(device),
        "streamed_batches": streamed_batches_probe(device),
    }


# -- ddp: one NCCL worker through torch.distributed.run ---------------------------------------------
def replicas(system: GanSystem) -> list[DistributedDataParallel]:
    return [v for v in vars(system).values() if isinstance(v, DistributedDataParallel)]


def ddp_round(group: Group, device: torch.device, bench: Bench, steps: int, folder: Path) -> dict[str, Any]:
    """On this rank: the nets wrapped by the group (DDP, SyncBatchNorm when it says so) on the
    group's device, `steps` iterations with a checkpoint at the end, then a second Trainer that
    resumes from it and trains `steps` more. Evidence of each branch it passes through."""
    device = group.device(device)
    placement = resolve_placement(str(device), "auto", "auto", convolutional=True)
    random = RunRandom(0, device, group.rank)
    g, d = build_generator(bench.model, bench.shape), build_discriminator(bench.model, bench.shape)
    if placement.channels_last:
        g.to(memory_format=torch.channels_last)
        d.to(memory_format=torch.channels_last)
    cfg = bench.config(steps)
    system = GanSystem(g, d, get_loss(cfg.loss), cfg, device, random.noise, placement.amp_dtype)
    sampler = BatchSampler({"x": bench.images()}, bench.batch, random.data, device, placement.channels_last)
    system.wrap_nets(net_wrapper(group, False), group.shard)  # type: ignore[arg-type]
    sampler.set_shard(group.shard)
    checkpoint = folder / "checkpoint.pt"
    with count_calls(torch.cuda, "get_rng_state_all") as saved:
        Trainer(system, sampler, random, cfg, PROG, checkpoint, group=group).fit()
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    with count_calls(torch.cuda, "set_rng_state_all") as restored:
        again = Trainer(system, sampler, random, bench.config(2 * steps), PROG, checkpoint, group=group).fit()
    sync(device)
    return {
        "device": str(device),
        "precision": placement.precision,
        "steps": steps,
        "batch": bench.batch,
        "images_per_s": round(again.history[-1]["images_per_s"], 1),
        "resumed_from": again.resumed_from,
        "sync_batchnorm_layers": sum(
            isinstance(m, nn.SyncBatchNorm) for net in system.modules.values() for m in net.modules()
        ),
        "ddp_device_ids": [r.device_ids for r in replicas(system)],
        "checkpoint_cuda_rng": "cuda" in state["random"],
        "checkpoint_ranks_cuda_rng": [("cuda" in r["random"]) for r in state.get("ranks") or []],
        "cuda_rng_saved_calls": saved[0],
        "cuda_rng_restored_calls": restored[0],
    }


def ddp_worker(out: Path, steps: int) -> int:
    """The worker torch.distributed.run starts: join the NCCL group, run `ddp_round`, rank 0
    writes what it saw to `out`."""
    options = DistributedConfig(backend="nccl", sync_batchnorm=True)
    cuda = torch.device("cuda")
    with process_group(options, cuda) as group, tempfile.TemporaryDirectory(prefix=f"{PROG}-ddp-") as tmp:
        info = ddp_round(group, cuda, dcgan_bench(), steps, Path(tmp))
        info |= {
            "launched_by_torch_distributed_run": launched(),
            "backend": dist.get_backend(),
            "rank": group.rank,
            "world": group.world,
            "local_rank": group.local_rank,
            "current_device": torch.cuda.current_device(),
        }
        if group.main:
            write_report(out, info)
    return 0


def ddp_command(out: Path, steps: int) -> tuple[list[str], dict[str, str]]:
    """torch.distributed.run (one process, NCCL, SyncBatchNorm) running this script's worker,
    as `pipeline train` launches itself; and its environment (benchmarks/ importable)."""
    options = DistributedConfig(nproc_per_node=1, backend="nccl", sync_batchnorm=True)
    cmd = launch_command(options, [PROG, "--ddp-worker", str(out), "--steps", str(steps)])
    path = os.pathsep.join(p for p in (str(BENCHMARKS), os.environ.get("PYTHONPATH", "")) if p)
    return cmd, {**os.environ, "PYTHONPATH": path}


def ddp_check(bench: Bench, steps: int, timeout: float) -> dict[str, Any]:
    check_plan(
        DistributedConfig(nproc_per_node=1, backend="nccl", sync_batchnorm=True),
        {VARIANT: bench.batch},
        torch.device("cuda"),
    )
    with tempfile.TemporaryDirectory(prefix=f"{PROG}-") as tmp:
        out = Path(tmp) / "worker.json"
        cmd, env = ddp_command(out, steps)
        done = run_boxed(cmd, ROOT, env, timeout)
        worker = json.loads(out.read_text(encoding="utf-8")) if out.is_file() else None
    ok = done.code == 0 and worker is not None
    result: dict[str, Any] = {
        "status": "ok" if ok else ("timed_out" if done.timed_out else "failed"),
        "plan_checked": True,
        "command": " ".join(cmd),
        "seconds": done.seconds,
        "exit_code": done.code,
        "timed_out": done.timed_out,
        "worker": worker,
    }
    if not ok:
        result["stderr_tail"] = tail(done.err)
    return result


# -- smoke: the smoke profile through DVC, in a throw-away copy ------------------------------------
def copy_project(target: Path) -> Path:
    """The code, configuration and DVC set-up of the project (no data, no outputs): the copy
    the end-to-end tests make (tests/project.py)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.project import copy_project as copy

    return copy(target)


def smoke_env(project: Path, mirror: Path) -> dict[str, str]:
    """The copy's own code first, offline, on `mirror`; of the caller's GANFORGE_ settings
    only the Inception weights and the CPU bf16 switch pass."""
    keep = {"GANFORGE_INCEPTION_WEIGHTS", "GANFORGE_CPU_BF16"}
    prefixes = ("GANFORGE_", "DVC_", "MLFLOW_")
    env = {k: v for k, v in os.environ.items() if k in keep or not k.startswith(prefixes)}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join([str(project / "src"), str(project)])
    env["GANFORGE_DATA_MIRROR"] = str(mirror)
    env["GANFORGE_OFFLINE"] = "1"
    env["DVC_NO_ANALYTICS"] = "1"
    return env


def smoke_commands(device: str, targets: tuple[str, ...] = ()) -> list[list[str]]:
    """Compose params.yaml for the smoke profile on `device`, let DVC work without git (the
    copy is not a repository), reproduce, check every expected output (.ci/check_smoke.py; not
    with `targets`, which reproduce only those stages, nor where the project has no .ci/)."""
    beside = Path(sys.executable).with_name("dvc")  # the environment's own dvc, else the PATH's
    dvc = str(beside) if beside.exists() else "dvc"
    cmds = [
        [sys.executable, "-m", "pipeline", "params", "profile=smoke", f"train.device={device}"],
        [dvc, "config", "--local", "core.no_scm", "true"],
        [dvc, "repro", *targets],
    ]
    if not targets and CHECK_SMOKE.is_file():
        cmds.append([sys.executable, str(CHECK_SMOKE)])
    return cmds


def has_cuda_rng(checkpoint: Path) -> bool:
    """Whether a checkpoint keeps a CUDA RNG state (False for one that cannot be read)."""
    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except Exception:
        return False
    return isinstance(state, dict) and "cuda" in state.get("random", {})


def smoke_evidence(project: Path) -> dict[str, Any]:
    """What the train stages say they ran on, and whether their checkpoints hold a CUDA RNG state."""
    runs = {}
    for summary in sorted((project / "data" / "models").glob("*/*/train.json")):
        info = json.loads(summary.read_text(encoding="utf-8"))
        runs[summary.parent.parent.name] = {"device": info.get("device"), "precision": info.get("precision")}
    checkpoints = sorted((project / "data" / "checkpoints").glob("*/*.pt"))
    with_cuda = [has_cuda_rng(p) for p in checkpoints]
    return {
        "trained": runs,
        "trained_on_cuda": sum(str(r["device"]).startswith("cuda") for r in runs.values()),
        "checkpoints": len(checkpoints),
        "checkpoints_with_cuda_rng": sum(with_cuda),
    }


def stages_ran(output: str) -> list[str]:
    return [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")]


def smoke_profile(
    mirror: Path, timeout: float, device: str = "cuda", targets: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The smoke profile on `device` in a throw-away copy, all its commands within `timeout`."""
    if not mirror.is_dir():
        raise FileNotFoundError(f"no dataset mirror at {mirror}: pass --mirror or set GANFORGE_DATA_MIRROR")
    deadline = time.perf_counter() + timeout
    steps: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix=f"{PROG}-smoke-") as tmp:
        project = copy_project(Path(tmp) / "project")
        env = smoke_env(project, mirror)
        stages: list[str] = []
        for cmd in smoke_commands(device, targets):
            done = run_boxed(cmd, project, env, deadline - time.perf_counter())
            stages += stages_ran(done.out)
            step = {"command": " ".join(Path(c).name if c == sys.executable else c for c in cmd)}
            step |= {"exit_code": done.code, "seconds": done.seconds, "timed_out": done.timed_out}
            steps.append(step)
            if done.code != 0:
                step["output_tail"] = tail(done.out + done.err)
                break
        evidence = smoke_evidence(project)
    ok = all(s["exit_code"] == 0 for s in steps) and len(steps) == len(smoke_commands(device, targets))
    return {
        "status": "ok" if ok else ("timed_out" if steps[-1]["timed_out"] else "failed"),
        "mirror": str(mirror),
        "device": device,
        "stages_run": len(stages),
        "last_stage": stages[-1] if stages else None,
        "commands": steps,
        **evidence,
    }


# -- the branch table ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Branch:
    branch: str
    where: str
    how: str
    evidence: str  # a path into the report
    reached: Callable[[Any], bool] | None  # None: this check cannot reach it (see `how`)


def _is(value: Any) -> Callable[[Any], bool]:
    return lambda seen: seen == value


def _cuda(seen: Any) -> bool:
    return isinstance(seen, str) and seen.startswith("cuda")


def _positive(seen: Any) -> bool:
    return isinstance(seen, (int, float)) and not isinstance(seen, bool) and seen > 0


BRANCHES = (
    Branch(
        "pinned host memory (a streaming dataset's batches to the GPU)",
        "src/ganforge/core/batches.py to_device, BatchSampler(host=True)",
        "probes: a memory-mapped streaming file's batch on cuda",
        "phases.probes.streamed_batches.pinned_copies",
        _positive,
    ),
    Branch(
        "device auto → CUDA",
        "src/ganforge/core/device.py resolve_placement",
        "probes: resolve_placement('auto', ...)",
        "phases.probes.auto_device",
        _cuda,
    ),
    Branch(
        "bf16 autocast on CUDA (torch.cuda.is_bf16_supported)",
        "src/ganforge/core/device.py resolve_placement, image_precision",
        "probes: image_precision() on the default device",
        "phases.probes.auto_precision",
        _is("bf16 autocast"),
    ),
    Branch(
        "GPU name in the machine record",
        "src/ganforge/core/device.py machine",
        "environment: machine()",
        "environment.machine.gpu",
        lambda seen: bool(seen),
    ),
    Branch(
        "training under CUDA autocast (bf16), sampler's non_blocking index copy to the GPU",
        "src/ganforge/train/contract.py autocast; src/ganforge/core/batches.py BatchSampler.next",
        "train: ganforge bf16 on cuda",
        "phases.train.ganforge.bf16.images_per_s",
        _positive,
    ),
    Branch(
        "torch.compile (inductor) of the nets on CUDA",
        "src/ganforge/runner.py net_wrapper",
        "train: ganforge compiled_bf16 on cuda",
        "phases.train.ganforge.compiled_bf16.images_per_s",
        _positive,
    ),
    Branch(
        "smoke profile with train.device=cuda (every train stage on the GPU)",
        "pipeline/train.py → src/ganforge/runner.py set_up",
        "smoke: dvc repro with train.device=cuda",
        "phases.smoke.trained_on_cuda",
        _positive,
    ),
    Branch(
        "NCCL backend",
        "src/ganforge/train/distributed.py resolve_backend, process_group",
        "ddp: 1 worker through torch.distributed.run",
        "phases.ddp.worker.backend",
        _is("nccl"),
    ),
    Branch(
        "SyncBatchNorm allowed on CUDA",
        "src/ganforge/train/distributed.py check_plan",
        "ddp: check_plan(sync_batchnorm=True) before the launch",
        "phases.ddp.plan_checked",
        _is(True),
    ),
    Branch(
        "worker started by torch.distributed.run",
        "src/ganforge/train/distributed.py launch_command, launched",
        "ddp: launch_command(nproc_per_node=1) running this script's worker",
        "phases.ddp.worker.launched_by_torch_distributed_run",
        _is(True),
    ),
    Branch(
        "cuda:LOCAL_RANK and torch.cuda.set_device",
        "src/ganforge/train/distributed.py Group.device",
        "ddp: the worker's placement",
        "phases.ddp.worker.device",
        _cuda,
    ),
    Branch(
        "SyncBatchNorm conversion",
        "src/ganforge/train/distributed.py Group.wrap",
        "ddp: distributed.sync_batchnorm true",
        "phases.ddp.worker.sync_batchnorm_layers",
        _positive,
    ),
    Branch(
        "DDP with device_ids=[the GPU's index]",
        "src/ganforge/train/distributed.py Group.wrap",
        "ddp: G and D wrapped",
        "phases.ddp.worker.ddp_device_ids",
        lambda seen: bool(seen) and all(ids and ids[0] is not None for ids in seen),
    ),
    Branch(
        "CUDA RNG state saved in checkpoints",
        "src/ganforge/core/seeds.py RunRandom.state_dict",
        "ddp: the checkpoint (and each rank's private state in it)",
        "phases.ddp.worker.checkpoint_cuda_rng",
        _is(True),
    ),
    Branch(
        "CUDA RNG state restored on resume",
        "src/ganforge/core/seeds.py RunRandom.load_state_dict",
        "ddp: a second Trainer resumes the checkpoint (torch.cuda.set_rng_state_all calls)",
        "phases.ddp.worker.cuda_rng_restored_calls",
        _positive,
    ),
    Branch(
        "feature extraction in bf16 on CUDA",
        "src/ganforge/metrics/features.py extraction_route",
        "features: the default route on cuda",
        "phases.features.default_route",
        _is("bf16 autocast"),
    ),
    Branch(
        "Inception in batches of 100 on CUDA",
        "src/ganforge/metrics/features.py InceptionExtractor",
        "features: Inception on cuda",
        "phases.features.inception.batch_size",
        _is(100),
    ),
    Branch(
        "evaluation.device auto → CUDA",
        "src/ganforge/evaluation/common.py Settings.device",
        "probes: Settings(...).device (and the smoke profile's evaluate stages)",
        "phases.probes.evaluation_device",
        _is("cuda"),
    ),
    Branch(
        "fork_rng over the CUDA device when translating",
        "src/ganforge/systems/translation.py translate",
        "probes: a U-Net translating in train mode on cuda",
        "phases.probes.translate",
        lambda seen: (
            isinstance(seen, dict) and _cuda(seen.get("device")) and seen.get("device_rng_untouched")
        ),
    ),
    Branch(
        "pipeline train launching itself through torch.distributed.run",
        "pipeline/train.py train_variant, launch",
        "not reachable on one GPU: pipeline train launches only for nproc_per_node × nnodes > 1, "
        "and NCCL takes one GPU per process; the ddp phase runs the same launch_command, "
        "process_group and Group path with one process",
        "phases.ddp.worker.world",
        None,
    ),
    Branch(
        "SyncBatchNorm's cross-process statistics",
        "torch.nn.SyncBatchNorm (converted by Group.wrap)",
        "not reachable on one GPU: with a world of 1 PyTorch normalises locally; needs 2 or more GPUs",
        "phases.ddp.worker.world",
        None,
    ),
)


def branch_table(report: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for b in BRANCHES:
        seen = dig(report, b.evidence)
        reached = bool(b.reached(seen)) if b.reached is not None else False
        rows.append(
            {"branch": b.branch, "where": b.where, "how": b.how, "reached": reached, "evidence": seen}
            | ({"reachable": False} if b.reached is None else {})
        )
    return rows


# -- the check -----------------------------------------------------------------------------------
def environment() -> dict[str, Any]:
    props = torch.cuda.get_device_properties(0)
    try:
        version = torch.cuda.nccl.version()
        nccl = ".".join(map(str, version)) if isinstance(version, tuple) else str(version)
    except (AttributeError, RuntimeError):
        nccl = None
    return {
        "device_name": torch.cuda.get_device_name(0),
        "device_count": torch.cuda.device_count(),
        "capability": f"{props.major}.{props.minor}",
        "memory_gib": round(props.total_memory / 2**30, 1),
        "bf16_supported": torch.cuda.is_bf16_supported(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "nccl": nccl,
        "python": platform.python_version(),
        "machine": machine(),
    }


def phase(report: dict[str, Any], name: str, job: Callable[[], dict[str, Any]]) -> None:
    """Run one phase into report["phases"][name]; a failure is recorded, the check goes on."""
    began = time.perf_counter()
    try:
        result = job()
        result.setdefault("status", "ok")
    except Exception as exc:
        result = {
            "status": "failed",
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": tail(traceback.format_exc()),
        }
    result["phase_seconds"] = round(time.perf_counter() - began, 1)
    report["phases"][name] = result
    why = result.get("error") or result.get("reason") or ""
    print(
        f"{name}: {result['status']} in {result['phase_seconds']:.1f} s{f' ({why})' if why else ''}",
        flush=True,
    )


def skipped(reason: str) -> Callable[[], dict[str, Any]]:
    return lambda: {"status": "skipped", "reason": reason}


def run_check(args: argparse.Namespace) -> int:
    budget = Budget(args.budget_s)
    cuda = torch.device("cuda")
    bench = dcgan_bench()
    mirror = args.mirror or default_mirror()
    report: dict[str, Any] = {
        "check": PROG,
        "budget_s": args.budget_s,
        "environment": environment(),
        "phases": {},
    }
    env = report["environment"]
    print(f"{PROG}: {env['device_name']}, torch {env['torch']}, CUDA {env['cuda']}", flush=True)
    phase(report, "probes", lambda: probes(cuda))
    smoke_s = budget.left() - AFTER_SMOKE_S
    phase(
        report,
        "smoke",
        (lambda: smoke_profile(mirror, smoke_s)) if smoke_s >= SMOKE_MIN_S else skipped("budget"),
    )
    ddp_s = min(DDP_MAX_S, budget.left() - 60)
    phase(report, "ddp", (lambda: ddp_check(bench, args.steps, ddp_s)) if ddp_s >= 30 else skipped("budget"))
    phase(
        report,
        "features",
        (lambda: features_bench("cuda", bench)) if budget.left() > 20 else skipped("budget"),
    )
    phase(
        report,
        "train",
        (lambda: train_bench(bench, cuda, args.steps, budget)) if budget.left() > 15 else skipped("budget"),
    )
    if "ganforge" in report["phases"]["train"]:
        print(train_line(report["phases"]["train"]))
    return finish(report, budget, args.out)


def finish(report: dict[str, Any], budget: Budget, out: Path) -> int:
    report["cuda_branches"] = branch_table(report)
    missed = [b["branch"] for b in report["cuda_branches"] if not b["reached"] and b.get("reachable", True)]
    failed = [name for name, p in report["phases"].items() if p["status"] != "ok"]
    report |= {"ok": not missed and not failed, "failed_phases": failed, "unreached_branches": missed}
    report["elapsed_s"] = round(budget.elapsed(), 1)
    write_report(out, report)
    reached = sum(b["reached"] for b in report["cuda_branches"])
    print(
        f"{PROG}: {'ok' if report['ok'] else 'FAILED'} in {report['elapsed_s']:.0f} s; "
        f"{reached}/{len(report['cuda_branches'])} CUDA branches reached; wrote {out}"
    )
    return 0 if report["ok"] else 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not torch.cuda.is_available():
        sys.stderr.write(REFUSAL + "\n")
        return 2
    if args.ddp_worker is not None:
        return ddp_worker(args.ddp_worker, args.steps)
    return run_check(args)


if __name__ == "__main__":
    sys.exit(main())
