"""Data-parallel training across processes with PyTorch's own engine (DDP, launched by
`torch.distributed.run`, the engine behind `torchrun`).

The rules that make N processes train like one: the run seed draws the global batch (its
data indices and its noise) on every rank, and each rank keeps its slice; G and D are wrapped
in DDP separately, and a phase goes through DDP only for the nets it updates (a frozen net is
run under `no_sync`), so gradients are averaged over the global batch. Rank 0 alone writes.
What stays per rank (batch statistics, dropout masks, CycleGAN's image pools) is documented
in docs/scale.md; the checkpoint keeps each rank's private state."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ganforge.core.config import from_dict
from ganforge.core.errors import ConfigError, GanforgeError
from ganforge.core.sharding import Shard
from ganforge.nets.base import GrowingNet

LAUNCHED_ENV = "TORCHELASTIC_RUN_ID"  # set by torch.distributed.run in every worker
PR_SET_PDEATHSIG = 1  # prctl option: the signal a process gets when its parent dies


@dataclass(frozen=True)
class DistributedConfig:
    """The `distributed:` block of params.yaml: an execution option (like `log_every`), so
    changing it never invalidates a finished run. `nproc_per_node` × `nnodes` processes; with
    more than one node, every node runs the same command with the same `rdzv_endpoint`
    (host:port of one of them). `backend` auto is NCCL on CUDA and gloo on the CPU.
    `sync_batchnorm` turns batch norm into SyncBatchNorm (CUDA only). `seed_processes` is the
    other way to use several cores: the seeds of a variant trained side by side, one process
    each, on one node (a run fixes its own threads with `train.threads`)."""

    nproc_per_node: int = 1
    nnodes: int = 1
    backend: Literal["auto", "gloo", "nccl"] = "auto"
    rdzv_backend: str = "c10d"
    rdzv_endpoint: str | None = None
    rdzv_id: str = "ganforge"
    sync_batchnorm: bool = False
    seed_processes: int = 1

    def __post_init__(self) -> None:
        if self.nproc_per_node < 1 or self.nnodes < 1 or self.seed_processes < 1:
            raise ValueError(
                f"nproc_per_node, nnodes and seed_processes must be 1 or more, got {self.nproc_per_node}, "
                f"{self.nnodes}, {self.seed_processes}"
            )
        if self.seed_processes > 1 and self.world_size > 1:
            raise ValueError(
                "seed_processes trains seeds side by side, nproc_per_node × nnodes one seed over several "
                "processes: set one of them to 1"
            )
        if self.nnodes > 1 and not self.rdzv_endpoint:
            raise ValueError("more than one node needs rdzv_endpoint (host:port of the rendezvous)")

    @property
    def world_size(self) -> int:
        return self.nproc_per_node * self.nnodes


def distributed_config(params: Mapping[str, Any]) -> DistributedConfig:
    """The `distributed:` block of the params (one process when it is absent)."""
    return from_dict(DistributedConfig, params.get("distributed"), "distributed")


def resolve_backend(backend: str, device: torch.device) -> str:
    """NCCL for CUDA and gloo for the CPU under "auto"; ConfigError for NCCL without CUDA."""
    if backend == "auto":
        return "nccl" if device.type == "cuda" else "gloo"
    if backend == "nccl" and device.type != "cuda":
        raise ConfigError("distributed.backend is nccl, which needs CUDA: use auto or gloo on the CPU")
    return backend


def check_plan(cfg: DistributedConfig, batch_sizes: dict[str, int], device: torch.device) -> None:
    """ConfigError, before any process starts, for a plan that cannot run: a global batch that
    the processes cannot share equally, or SyncBatchNorm off CUDA."""
    if cfg.sync_batchnorm and device.type != "cuda":
        raise ConfigError(
            "distributed.sync_batchnorm needs CUDA (PyTorch's SyncBatchNorm does not run on the CPU): "
            "set it to false"
        )
    for name, size in batch_sizes.items():
        if size % cfg.world_size:
            raise ConfigError(
                f"variant {name}: batch size {size} does not split over {cfg.world_size} processes; "
                f"use a multiple of {cfg.world_size}"
            )
    resolve_backend(cfg.backend, device)


def launch_command(cfg: DistributedConfig, module_args: list[str]) -> list[str]:
    """The `torch.distributed.run` command that starts `python -m <module_args>` on this node."""
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={cfg.nproc_per_node}"]
    if cfg.nnodes == 1 and not cfg.rdzv_endpoint:
        cmd.append("--standalone")
    else:
        cmd += [
            f"--nnodes={cfg.nnodes}",
            f"--rdzv-backend={cfg.rdzv_backend}",
            f"--rdzv-endpoint={cfg.rdzv_endpoint}",
            f"--rdzv-id={cfg.rdzv_id}",
        ]
    return [*cmd, "-m", *module_args]


class DistributedRunError(GanforgeError):
    """The workers of a distributed run did not all finish."""


def relaunch(cfg: DistributedConfig, module_args: list[str], cwd: str | os.PathLike[str], what: str) -> None:
    """Run `python -m <module_args>` again, in `cwd`, as this node's workers of a
    `cfg.world_size`-process run through torch.distributed.run (`launch_command`), and wait
    for them; DistributedRunError, naming `what`, when one of them failed (their errors are
    on stderr already)."""
    code = subprocess.run(launch_command(cfg, module_args), cwd=cwd, check=False).returncode
    if code != 0:
        raise DistributedRunError(
            f"{what} failed (exit {code}) on {cfg.world_size} processes: the workers' errors are above"
        )


def launched() -> bool:
    """Whether this process is a worker started by torch.distributed.run."""
    return LAUNCHED_ENV in os.environ and "LOCAL_RANK" in os.environ


class Replica(DistributedDataParallel):
    """DDP that also answers the wrapped net's own attributes (latent_dim, features, shape), so
    a system calls a replica exactly as it calls the net."""

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.module, name)


@dataclass(frozen=True)
class Group:
    """The process group this worker belongs to."""

    rank: int
    world: int
    local_rank: int
    backend: str
    sync_batchnorm: bool = False

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def shard(self) -> Shard:
        return Shard(self.rank, self.world)

    def device(self, device: torch.device) -> torch.device:
        """This worker's device: its own GPU (by local rank) on CUDA."""
        if device.type != "cuda":
            return device
        torch.cuda.set_device(self.local_rank)
        return torch.device("cuda", self.local_rank)

    def wrap(self, net: nn.Module) -> nn.Module:
        """`net` as a DDP replica (with SyncBatchNorm when asked; the optimizers keep working,
        as the conversion reuses the parameters; a growing net's unused blocks are expected)."""
        if self.sync_batchnorm:
            net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
        device = next(net.parameters()).device
        ids = [device.index] if device.type == "cuda" else None
        # A growing net leaves the blocks of other resolutions out of each step.
        return Replica(net, device_ids=ids, find_unused_parameters=isinstance(net, GrowingNet))

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """The average of `values` over the ranks."""
        out = values.clone()
        dist.all_reduce(out)
        return out / self.world

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's `obj`, in rank order, on every rank."""
        out: list[Any] = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's `obj` on every rank."""
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def die_with_launcher() -> None:
    """Have the kernel kill this worker when its launcher dies (Linux). torch.distributed.run
    starts workers in sessions of their own, so a SIGKILL to `dvc repro` would otherwise leave
    them training, and writing checkpoints, beside the run that resumes."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the launcher died before the request took hold
        os.kill(os.getpid(), signal.SIGKILL)


@contextlib.contextmanager
def process_group(cfg: DistributedConfig, device: torch.device) -> Iterator[Group]:
    """Join the group torch.distributed.run set up (its environment), and leave it after."""
    die_with_launcher()
    backend = resolve_backend(cfg.backend, device)
    dist.init_process_group(backend)
    try:
        yield Group(
            dist.get_rank(), dist.get_world_size(), int(os.environ["LOCAL_RANK"]), backend, cfg.sync_batchnorm
        )
    finally:
        dist.destroy_process_group()
