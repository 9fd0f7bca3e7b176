"""Seeds side by side (`distributed.seed_processes`): each run in a process of its own, the
results in order, the first error raised, and the same bits as runs one after another (each
run fixes its threads with `train.threads`)."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ganforge.core.errors import ConfigError
from ganforge.runner import RunPaths, train_run
from ganforge.train.distributed import DistributedConfig
from ganforge.train.parallel import run_each
from tests.project import ROOT
from tests.runs import tiny_variant


def pid_of(item: int) -> tuple[int, int]:
    return item, os.getpid()


def fails_on_two(item: int) -> int:
    if item == 2:
        raise ConfigError(f"item {item} is bad")
    return item


def test_each_item_runs_in_a_process_of_its_own_and_comes_back_in_order():
    out = run_each(pid_of, [3, 1, 2], processes=2)
    assert [item for item, _ in out] == [3, 1, 2]
    pids = {pid for _, pid in out}
    assert len(pids) == 3 and os.getpid() not in pids  # a fresh process per item
    assert run_each(pid_of, [5], processes=4) == [(5, os.getpid())]  # one item: no process
    assert [pid for _, pid in run_each(pid_of, [1, 2], processes=1)] == [os.getpid()] * 2


def test_the_first_error_of_a_process_is_raised_here():
    with pytest.raises(ConfigError, match="item 2 is bad"):
        run_each(fails_on_two, [1, 2, 3], processes=2)


def test_side_by_side_needs_one_process_per_seed_and_no_data_parallelism():
    with pytest.raises(ValueError, match="seed_processes trains seeds side by side"):
        DistributedConfig(nproc_per_node=2, seed_processes=2)
    with pytest.raises(ValueError, match="must be 1 or more"):
        DistributedConfig(seed_processes=0)


def train_seed(folder: Path, seed: int) -> str:
    variant, data = tiny_variant("dcgan_emoji64", steps=6, threads=1)
    data.meta["data_sha256"] = variant.dataset_sha256
    run = folder / str(seed)
    paths = RunPaths(run / "checkpoint.pt", run / "grids", run / "out", run / "curves.csv")
    train_run(variant, seed, data, paths, say=lambda _m: None)
    return hashlib.sha256((paths.out_dir / "generator.pt").read_bytes()).hexdigest()


def compare_side_by_side(folder: Path) -> tuple[list[str], list[str]]:
    """Seeds 0 and 1 forked side by side, then one after another in this process."""
    side_by_side = run_each(functools.partial(train_seed, folder / "par"), [0, 1], processes=2)
    return side_by_side, [train_seed(folder / "seq", s) for s in (0, 1)]


def test_seeds_side_by_side_give_the_bits_of_seeds_one_after_another(tmp_path):
    """In a fresh process, as the train stage is: torch refuses to fork a process whose
    autograd has already run on threads (a test worker may have)."""
    code = (
        "import json, sys; from pathlib import Path; from tests.train.test_parallel import compare_side_by_side; "
        "print(json.dumps(compare_side_by_side(Path(sys.argv[1]))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, check=True
    )
    side_by_side, one_by_one = json.loads(out.stdout.splitlines()[-1])
    assert side_by_side == one_by_one and one_by_one[0] != one_by_one[1]


def dies(item: int) -> int:
    if item == 1:
        os._exit(3)
    return item


def test_a_process_that_dies_without_an_answer_is_an_error_that_says_so():
    from ganforge.train.parallel import WorkerDiedError

    with pytest.raises(WorkerDiedError, match=r"the process of 1 died \(exit 3\)"):
        run_each(dies, [0, 1], processes=2)
