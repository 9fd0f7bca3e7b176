"""A project folder with one tiny trained run of each kind of model, for the serving tests (a
helper module: the fixture that makes it is in tests/serving/conftest.py)."""

from __future__ import annotations

from pathlib import Path

from ganforge.layout import model_dir
from ganforge.runner import RunPaths, train_run
from tests.runs import tiny_variant

MODELS = (
    "gan_mnist",
    "cgan_mnist",
    "dcgan_emoji64",
    "gan_ring",
    "pix2pix_edges2emoji64",
    "cyclegan_mnist2color",
)


def trained_project(root: Path) -> Path:
    """`root` with one 4-step run (seed 0) of each of MODELS under data/models."""
    for name in MODELS:
        variant, data = tiny_variant(name, steps=4)
        data.meta["data_sha256"] = variant.dataset_sha256
        out = model_dir(root, name, 0)
        paths = RunPaths(
            root / "ckpt" / f"{name}.pt", root / "grids" / name, out, root / "curves" / f"{name}.csv"
        )
        train_run(variant, 0, data, paths, say=lambda _: None)
    return root
