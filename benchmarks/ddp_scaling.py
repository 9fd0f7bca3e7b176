"""Data-parallel scaling: images/s of ganforge's trainer on 1 process against 2 (and every GPU
count up to the machine's), with the same global batch, in the same run.

Each world size runs the real path (`GanSystem` wrapped per net by `wrap_nets`, the sampler
sharded, `Trainer` with its process group) in processes started by torch.multiprocessing
(gloo on the CPU, NCCL on CUDA, one GPU per process). On the CPU the cores are shared: one
process gets every core as torch's threads, N processes get cores // N threads each, as
torch.distributed.run would give them. The last line is JSON with images/s per world size and
`ratio_<N>` = images/s with N processes / images/s with 1.

    python benchmarks/ddp_scaling.py                       # DCGAN 32 px and the MLP, CPU
    python benchmarks/ddp_scaling.py --model dcgan --steps 200 --batch 256   # on GPUs
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from ganforge.core.batches import BatchSampler
from ganforge.core.device import resolve_placement
from ganforge.core.seeds import RunRandom
from ganforge.losses import get_loss
from ganforge.nets.config import DataShape, ModelConfig, NetConfig
from ganforge.nets.registry import build_discriminator, build_generator
from ganforge.systems.gan import GanSystem
from ganforge.train.config import TrainConfig
from ganforge.train.distributed import Group
from ganforge.train.loop import Trainer

MODELS = {
    "dcgan": (DataShape("images", 3, 32), ModelConfig(100, NetConfig("dcgan", 64), NetConfig("dcgan", 64))),
    "mlp": (DataShape("images", 1, 28), ModelConfig()),
}
WARMUP = 5


def run(model: str, steps: int, batch: int, group: Group | None, cuda: bool) -> float:
    """Seconds for `steps` iterations after a warm-up, on this rank."""
    shape, config = MODELS[model]
    device = torch.device("cuda", group.local_rank if group else 0) if cuda else torch.device("cpu")
    placement = resolve_placement(str(device), "auto", "auto", convolutional=model == "dcgan")
    random = RunRandom(0, device, group.rank if group else 0)
    g, d = build_generator(config, shape), build_discriminator(config, shape)
    if placement.channels_last:
        g.to(memory_format=torch.channels_last)
        d.to(memory_format=torch.channels_last)
    cfg = TrainConfig(steps=WARMUP + steps, batch_size=batch, log_every=10**9, checkpoint_every=10**9)
    system = GanSystem(g, d, get_loss("ns"), cfg, device, random.noise, placement.amp_dtype)
    data = torch.randint(0, 256, (batch * 8, shape.channels, shape.size, shape.size), dtype=torch.uint8)
    sampler = BatchSampler({"x": data}, batch, random.data, device, placement.channels_last)
    if group is not None:
        system.wrap_nets(group.wrap, group.shard)
        sampler.set_shard(group.shard)
    Trainer(system, sampler, random, replace(cfg, steps=WARMUP), "w", group=group).fit()
    if group is not None:
        dist.barrier()
    if cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    Trainer(system, sampler, random, replace(cfg, steps=steps), "t", group=group).fit()
    if cuda:
        torch.cuda.synchronize()
    if group is not None:
        dist.barrier()
    return time.perf_counter() - start


def worker(rank: int, world: int, folder: str, model: str, steps: int, batch: int, cuda: bool) -> None:
    threads = max(1, (os.cpu_count() or 1) // world)
    torch.set_num_threads(threads)
    if cuda:
        torch.cuda.set_device(rank)
    backend = "nccl" if cuda else "gloo"
    dist.init_process_group(backend, init_method=f"file://{folder}/rdzv", rank=rank, world_size=world)
    try:
        seconds = run(model, steps, batch, Group(rank, world, rank, backend), cuda)
        if rank == 0:
            Path(folder, "seconds").write_text(str(seconds))
    finally:
        dist.destroy_process_group()


def images_per_s(model: str, steps: int, batch: int, world: int, cuda: bool) -> float:
    if world == 1:
        return steps * batch / run(model, steps, batch, None, cuda)
    with tempfile.TemporaryDirectory() as folder:
        mp.start_processes(
            worker, args=(world, folder, model, steps, batch, cuda), nprocs=world, start_method="spawn"
        )
        return steps * batch / float(Path(folder, "seconds").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(MODELS), default=None, help="default: both")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch", type=int, default=64, help="the global batch")
    parser.add_argument("--repeats", type=int, default=2, help="alternating rounds; the best of each is kept")
    args = parser.parse_args()
    cuda = torch.cuda.is_available()
    worlds = sorted({1, 2, *(range(2, torch.cuda.device_count() + 1) if cuda else ())})
    if cuda and torch.cuda.device_count() < 2:
        worlds = [1]
    results: dict[str, object] = {"device": "cuda" if cuda else "cpu", "cores": os.cpu_count()}
    for model in [args.model] if args.model else ["dcgan", "mlp"]:
        best = {w: 0.0 for w in worlds}
        for _ in range(args.repeats):  # alternating, so a slow spell hits every world size
            for w in worlds:
                best[w] = max(best[w], images_per_s(model, args.steps, args.batch, w, cuda))
        line = {f"images_per_s_{w}": round(v, 1) for w, v in best.items()}
        line |= {f"ratio_{w}": round(best[w] / best[1], 3) for w in worlds if w > 1}
        print(f"{model}: " + ", ".join(f"{w} process(es) {v:.1f} img/s" for w, v in best.items()))
        results[model] = {"steps": args.steps, "global_batch": args.batch, **line}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
