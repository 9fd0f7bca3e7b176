"""Data-parallel training: two gloo processes on the CPU train the MLP GAN exactly as one
process does with the same global batch (to float tolerance), the ranks agree bit for bit
after every step, and a run resumed from rank 0's checkpoint does the same."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from ganforge.core.batches import BatchSampler
from ganforge.core.errors import ConfigError
from ganforge.core.seeds import RunRandom
from ganforge.core.sharding import Shard
from ganforge.losses import get_loss
from ganforge.nets.config import DataShape, ModelConfig, NetConfig
from ganforge.nets.registry import build_discriminator, build_generator
from ganforge.systems.gan import GanSystem
from ganforge.train.config import TrainConfig
from ganforge.train.distributed import DistributedConfig, Group, check_plan, launch_command
from ganforge.train.loop import Hooks, Trainer

CPU = torch.device("cpu")
SHAPE = DataShape("images", channels=1, size=8)
PLAIN = NetConfig("mlp", hidden=(16, 16), norm="none")  # no dropout, no batch norm
MODEL = ModelConfig(4, PLAIN, PLAIN)
STEPS, HALF = 4, 2


def config(steps: int, **overrides: object) -> TrainConfig:
    base = {"steps": steps, "batch_size": 8, "log_every": 1, "checkpoint_every": HALF, "amp": "off"}
    return TrainConfig(**{**base, **overrides})  # type: ignore[arg-type]


def trainer(cfg: TrainConfig, group: Group | None, checkpoint: Path | None, trace: list) -> Trainer:
    """The MLP GAN on 64 fixed 8×8 images, recording every net's weights after each step."""
    random = RunRandom(0, CPU, group.rank if group else 0)
    g, d = build_generator(MODEL, SHAPE), build_discriminator(MODEL, SHAPE)
    system = GanSystem(g, d, get_loss(cfg.loss), cfg, CPU, random.noise)
    data = torch.randint(0, 256, (64, 1, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(7))
    sampler = BatchSampler({"x": data}, cfg.batch_size, random.data, CPU)
    if group is not None:
        system.wrap_nets(group.wrap, group.shard)
        sampler.set_shard(group.shard)

    def record(step: int, row: dict[str, float]) -> None:
        flat = torch.cat([p.detach().flatten() for m in system.modules.values() for p in m.parameters()])
        trace.append((step, flat.clone(), row["d_loss"]))

    return Trainer(system, sampler, random, cfg, "fp", checkpoint, Hooks(on_log=record), group=group)


def runs(group: Group | None, folder: Path, **train: object) -> dict[str, list]:
    """An uninterrupted run, and one stopped at HALF then resumed (from rank 0's checkpoint)."""
    out: dict[str, list] = {"whole": [], "resumed": []}
    trainer(config(STEPS, **train), group, None, out["whole"]).fit()
    checkpoint = folder / f"checkpoint-{group.world if group else 1}.pt"
    trainer(config(HALF, **train), group, checkpoint, out["resumed"]).fit()
    trainer(config(STEPS, **train), group, checkpoint, out["resumed"]).fit()
    return out


def worker(rank: int, world: int, folder: str, train: dict) -> None:
    dist.init_process_group("gloo", init_method=f"file://{folder}/rendezvous", rank=rank, world_size=world)
    try:
        out = runs(Group(rank, world, rank, "gloo"), Path(folder), **train)
        torch.save(out, Path(folder) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def assert_matches(single: list, ranks: list[list]) -> None:
    assert [s for s, _, _ in single] == [s for s, _, _ in ranks[0]] == list(range(1, STEPS + 1))
    for i, (_, reference, loss) in enumerate(single):
        for trace in ranks:
            assert torch.equal(trace[i][1], ranks[0][i][1]), f"ranks differ after step {i + 1}"
        torch.testing.assert_close(ranks[0][i][1], reference, rtol=1e-4, atol=1e-5)
        assert ranks[0][i][2] == pytest.approx(loss, rel=1e-4, abs=1e-5)  # logged D loss: the global mean


@pytest.mark.parametrize("train", [{}, {"loss": "wgan", "gradient_penalty": 10.0, "d_steps": 2}])
def test_two_gloo_processes_train_as_one_and_resume_from_rank_0(tmp_path, train):
    """Both ranks hold the same weights after every step, equal to one process with the same
    global batch to float tolerance; the same holds after resuming from the checkpoint rank 0
    wrote, which also continues the two-process run bit for bit."""
    mp.start_processes(worker, args=(2, str(tmp_path), train), nprocs=2, join=True, start_method="spawn")
    single = runs(None, tmp_path, **train)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(2)]
    for key in ("whole", "resumed"):
        assert_matches(single[key], [r[key] for r in ranks])
    for a, b in zip(ranks[0]["whole"], ranks[0]["resumed"], strict=True):
        assert torch.equal(a[1], b[1])
    state = torch.load(tmp_path / "checkpoint-2.pt", weights_only=True)
    assert state["processes"] == [2] and len(state["ranks"]) == 2


def test_a_shard_takes_its_slice_of_the_global_draw():
    draw = torch.arange(8)
    assert torch.equal(torch.cat([Shard(r, 2).take(draw) for r in range(2)]), draw)
    assert torch.equal(Shard().take(draw), draw)
    with pytest.raises(ConfigError, match="does not split over 3"):
        Shard(0, 3).check(8, "the batch size")


def test_plans_that_cannot_run_are_refused_in_one_line():
    two = DistributedConfig(nproc_per_node=2)
    with pytest.raises(ConfigError, match="batch size 7 does not split over 2 processes"):
        check_plan(two, {"gan_ring": 7}, CPU)
    with pytest.raises(ConfigError, match="SyncBatchNorm does not run on the CPU"):
        check_plan(DistributedConfig(nproc_per_node=2, sync_batchnorm=True), {"v": 8}, CPU)
    with pytest.raises(ConfigError, match="nccl, which needs CUDA"):
        check_plan(DistributedConfig(nproc_per_node=2, backend="nccl"), {"v": 8}, CPU)
    with pytest.raises(ValueError, match="needs rdzv_endpoint"):
        DistributedConfig(nnodes=2)


def test_the_launch_command_is_torch_distributed_run():
    single_node = launch_command(DistributedConfig(nproc_per_node=2), ["pipeline", "train", "gan_ring"])
    assert single_node[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert "--standalone" in single_node and single_node[-4:] == ["-m", "pipeline", "train", "gan_ring"]
    two_nodes = launch_command(
        DistributedConfig(nproc_per_node=4, nnodes=2, rdzv_endpoint="node0:29400"), ["pipeline", "train", "x"]
    )
    assert "--nnodes=2" in two_nodes and "--rdzv-endpoint=node0:29400" in two_nodes
    assert "--rdzv-backend=c10d" in two_nodes and "--standalone" not in two_nodes


SYSTEMS = ["dcgan_emoji64", "cgan_mnist", "ssgan_mnist", "pix2pix_edges2emoji64", "cyclegan_mnist2color"]


def system_worker(rank: int, world: int, folder: str, name: str) -> None:
    """Three steps of a variant's own system (small nets, batch 4) on this rank."""
    from tests.runs import build, tiny_variant

    dist.init_process_group("gloo", init_method=f"file://{folder}/rendezvous", rank=rank, world_size=world)
    try:
        group = Group(rank, world, rank, "gloo")
        variant, data = tiny_variant(name)
        built, _ = build(variant, data)
        random = RunRandom(0, CPU, rank)
        built.system.wrap_nets(group.wrap, group.shard)
        built.sampler.set_shard(group.shard)
        trace: list[torch.Tensor] = []

        def record(step: int, row: dict[str, float]) -> None:
            nets = built.system.modules.values()
            trace.append(torch.cat([p.detach().flatten() for m in nets for p in m.parameters()]))

        Trainer(
            built.system, built.sampler, random, variant.train, "fp", None, Hooks(record), group=group
        ).fit()
        built.system.unwrap_nets()
        torch.save(trace, Path(folder) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("name", SYSTEMS)
def test_every_system_trains_data_parallel_with_ranks_in_step(tmp_path, name):
    """Every system under the trainer (batch norm, conditioning, the semi-supervised labelled
    sampler, pix2pix's dropout, CycleGAN's second sampler and pools) runs on two gloo ranks,
    whose weights agree bit for bit after every step."""
    mp.start_processes(system_worker, args=(2, str(tmp_path), name), nprocs=2, start_method="spawn")
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    assert len(ranks[0]) == len(ranks[1]) == 3
    for step, (a, b) in enumerate(zip(*ranks, strict=True), 1):
        assert torch.equal(a, b), f"the ranks' weights differ after step {step}"
    assert not torch.equal(ranks[0][0], ranks[0][-1])  # it trained
