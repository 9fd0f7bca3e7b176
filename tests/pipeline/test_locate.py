"""`locate` (every raw input of the profile at hand, before anything runs) and the benchmark
datasets' archives prepared through DVC in a copy of the project."""

from __future__ import annotations

import json
import time

import pytest
import torch
import yaml

from ganforge.data.cifar import CIFAR10, CIFAR100
from tests.builders import write_celeba, write_cifar_tar, write_mnist_split
from tests.project import copy_project, git_commit_all, project_env, run


def write_params(root, mirror, datasets, run_datasets, offline=True):
    params = {
        "data": {
            "mirror": str(mirror),
            "offline": offline,
            "verify_checksums": False,
            "download_timeout_s": 5,
        },
        "datasets": datasets,
        "run": {"datasets": run_datasets},
    }
    (root / "params.yaml").write_text(yaml.safe_dump(params))


DATASETS = {
    "mnist": {"source": "mnist", "split": "train"},
    "cifar10": {"source": "cifar10"},
    "celeba": {"source": "celeba"},
    "own": {"source": "folder", "path": "/nowhere/images"},
    "ring": {"source": "toy2d", "shape": "ring"},
}


def test_every_missing_input_is_a_line_saying_where_it_goes(tmp_path):
    from pipeline.prepare import locate

    (tmp_path / "mirror").mkdir()
    write_params(tmp_path, tmp_path / "mirror", DATASETS, list(DATASETS))
    missing, summary = locate(tmp_path)
    assert summary == [] and not (tmp_path / "data" / "raw" / "located.json").exists()
    text = "\n".join(missing)
    for name in (
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        CIFAR10.archive,
        "img_align_celeba.zip",
        "list_attr_celeba.txt",
        "/nowhere/images",
    ):
        assert name in text
    assert len(missing) == 6  # the toy set needs nothing
    assert str(tmp_path / "mirror" / "cifar10" / CIFAR10.archive) in text


def test_online_only_local_folders_must_be_there(tmp_path):
    from pipeline.prepare import locate

    (tmp_path / "mirror").mkdir()
    write_params(tmp_path, tmp_path / "mirror", DATASETS, ["mnist", "cifar10", "ring"], offline=False)
    missing, summary = locate(tmp_path)
    assert missing == [] and "3 datasets" in summary[0]
    assert (tmp_path / "data" / "raw" / "located.json").is_file()


def test_located_when_the_mirror_has_everything(tmp_path):
    from pipeline.prepare import locate

    mirror = tmp_path / "mirror"
    write_mnist_split(mirror / "mnist", "train", 4)
    write_cifar_tar(mirror / "cifar10" / CIFAR10.archive, "cifar10", 2)
    write_params(tmp_path, mirror, DATASETS, ["mnist", "cifar10", "ring"])
    missing, summary = locate(tmp_path)
    assert missing == [] and summary


@pytest.mark.e2e
def test_benchmark_archives_prepare_through_dvc(tmp_path):
    """CIFAR-10/100 binary archives and a CelebA zip in their real layouts, prepared by `dvc repro`."""
    mirror = tmp_path / "mirror"
    write_cifar_tar(mirror / "cifar10" / CIFAR10.archive, "cifar10", 6)
    write_cifar_tar(mirror / "cifar100" / CIFAR100.archive, "cifar100", 8)
    write_celeba(mirror / "celeba", n=12, partitions=False)
    project = copy_project(tmp_path / "project")
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["data"]["verify_checksums"] = False
    params["datasets"]["celeba"]["label_attribute"] = "Male"
    params["run"]["datasets"] = ["cifar10", "cifar100", "celeba"]
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = project_env(project, GANFORGE_DATA_MIRROR=str(mirror), GANFORGE_OFFLINE="1")
    git_commit_all(project, env)
    out = run(["dvc", "repro", "prepare"], project, env).stdout
    assert "located the inputs of 3 datasets" in out
    prepared = project / "data" / "prepared"
    meta = {n: json.loads((prepared / f"{n}.json").read_text()) for n in ("cifar10", "cifar100", "celeba")}
    assert meta["cifar10"]["tensors"]["images"]["shape"] == [30, 3, 32, 32]
    assert len(meta["cifar10"]["class_names"]) == 10 and meta["cifar10"]["benchmark"] == "cifar10"
    assert (
        meta["cifar100"]["tensors"]["labels"]["shape"] == [8] and len(meta["cifar100"]["class_names"]) == 100
    )
    assert meta["celeba"]["tensors"]["images"]["shape"] == [12, 3, 64, 64]
    assert meta["celeba"]["class_names"] == ["not Male", "Male"]
    data = torch.load(prepared / "cifar10.pt", weights_only=True)
    assert data["tensors"]["images"].dtype == torch.uint8
    assert "Running stage" not in run(["dvc", "repro", "prepare"], project, env).stdout


@pytest.mark.e2e
def test_full_profile_offline_fails_at_once_naming_every_missing_archive(tmp_path):
    (tmp_path / "mirror").mkdir()
    project = copy_project(tmp_path / "project")
    env = project_env(project, GANFORGE_DATA_MIRROR=str(tmp_path / "mirror"), GANFORGE_OFFLINE="1")
    git_commit_all(project, env)
    start = time.perf_counter()
    result = run(["dvc", "exp", "run", "-S", "profile=full"], project, env, check=False)
    elapsed = time.perf_counter() - start
    assert result.returncode != 0
    lines = [
        line for line in result.stderr.splitlines() if line.startswith("error: ") and "is missing" in line
    ]
    expected = [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "animefacedataset.zip",
        CIFAR10.archive,
        "facades.tar.gz",
        "horse2zebra.zip",
    ]
    for name in expected:
        assert sum(name in line for line in lines) >= 1, (name, result.stderr[-2000:])
    assert len(lines) == 8  # MNIST's two, Fashion-MNIST's two, anime, CIFAR-10, facades, horse2zebra
    assert (
        not list((project / "data" / "prepared").glob("*.pt"))
        if (project / "data" / "prepared").exists()
        else True
    )
    print(f"failed after {elapsed:.1f} s")  # informative only: no timed assertion
