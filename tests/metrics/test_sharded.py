"""Feature extraction split across the ranks of a data-parallel run: whole batches per rank,
and two gloo processes gather exactly the single-process features; a trainer scoring during
training under two processes records the same scores on both ranks."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from ganforge.metrics.classifier import DomainCNN
from ganforge.metrics.features import DomainExtractor, extraction_route
from ganforge.metrics.sharded import ShardedExtractor, shard_bounds
from ganforge.train.distributed import Group

CPU = torch.device("cpu")

IMAGES = 37  # not a multiple of the batch: the last batch is short


@pytest.mark.parametrize(
    ("count", "batch", "world"), [(37, 8, 2), (37, 8, 3), (8, 8, 2), (0, 8, 2), (100, 7, 4)]
)
def test_ranks_take_whole_batches_covering_every_row_once(count, batch, world):
    bounds = [shard_bounds(count, batch, rank, world) for rank in range(world)]
    assert bounds[0][0] == 0 and bounds[-1][1] == count
    for (_, stop), (start, _) in itertools.pairwise(bounds):
        assert stop == start
    assert all(start % batch == 0 for start, stop in bounds if stop > start)


def extractor() -> DomainExtractor:
    torch.manual_seed(3)
    model = DomainCNN(3, 5, width=8, feature_dim=16).eval()
    return DomainExtractor("domain:test", model, 16, 3, batch_size=8, route=extraction_route("cpu", "fp32"))


def images() -> torch.Tensor:
    return torch.randint(
        0, 256, (IMAGES, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(1)
    )


def worker(rank: int, world: int, folder: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{folder}/rendezvous", rank=rank, world_size=world)
    try:
        group = Group(rank, world, rank, "gloo")
        sharded = ShardedExtractor(extractor(), rank, world, group.gather)
        features = sharded(images())
        np.savez(Path(folder) / f"rank{rank}.npz", features=features.features, log_probs=features.log_probs)
    finally:
        dist.destroy_process_group()


def test_two_gloo_processes_gather_the_single_process_features(tmp_path):
    mp.start_processes(worker, args=(2, str(tmp_path)), nprocs=2, join=True, start_method="spawn")
    torch.set_num_threads(1)
    single = extractor()(images())
    for rank in range(2):
        got = np.load(tmp_path / f"rank{rank}.npz")
        assert got["features"].shape == single.features.shape == (IMAGES, 16)
        np.testing.assert_array_equal(got["features"], single.features)  # bit for bit
        np.testing.assert_array_equal(got["log_probs"], single.log_probs)


def test_one_process_is_the_extractor_itself():
    ext = extractor()
    sharded = ShardedExtractor(ext, 0, 1, lambda obj: [obj])
    np.testing.assert_array_equal(sharded(images()).features, ext(images()).features)
    assert sharded.name == "domain:test" and sharded.batch_size == 8


def scoring_worker(rank: int, world: int, folder: str) -> None:
    """dcgan_emoji64 (tiny) on two gloo ranks, scored every 2 steps: the score hook draws the
    same 12 images on every rank and extracts their features sharded."""
    from ganforge.core.seeds import RunRandom
    from ganforge.train.loop import Hooks, Trainer
    from ganforge.train.selection import Selection, Watched
    from tests.runs import build, tiny_variant

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{folder}/rendezvous", rank=rank, world_size=world)
    try:
        group = Group(rank, world, rank, "gloo")
        variant, data = tiny_variant("dcgan_emoji64", steps=4, eval_every=2)
        built, _ = build(variant, data)
        built.system.wrap_nets(group.wrap, group.shard)
        built.sampler.set_shard(group.shard)
        sharded = ShardedExtractor(extractor(), rank, world, group.gather)
        calls: list[int] = []

        def score(step: int, nets: dict) -> dict[str, float]:
            calls.append(step)
            z = torch.randn(12, variant.model.latent_dim, generator=torch.Generator().manual_seed(step))
            with torch.no_grad():
                fake = ((nets["generator"](z).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
            return {
                "domain.fd": float(
                    sharded(torch.nn.functional.interpolate(fake.float(), 16).to(torch.uint8)).features.mean()
                )
            }

        selection = Selection(Watched("domain.fd", False))
        trainer = Trainer(
            built.system, built.sampler, RunRandom(0, CPU, rank), variant.train, "fp", None,
            Hooks(on_score=score), group=group, selection=selection,
        )  # fmt: skip
        trainer.fit()
        torch.save({"calls": calls, "points": selection.points}, Path(folder) / f"scores{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_two_ranks_score_during_training_alike(tmp_path):
    mp.start_processes(scoring_worker, args=(2, str(tmp_path)), nprocs=2, join=True, start_method="spawn")
    ranks = [torch.load(tmp_path / f"scores{r}.pt", weights_only=False) for r in range(2)]
    assert ranks[0]["calls"] == ranks[1]["calls"] == [2, 4]
    assert ranks[0]["points"] == ranks[1]["points"] and len(ranks[0]["points"]) == 2
