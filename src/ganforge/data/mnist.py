"""MNIST and Fashion-MNIST from their IDX files: the download path and checksums are
torchvision's own (its mirrors and MD5s); the files may also come from the offline mirror."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from ganforge.core.config import check_limit
from ganforge.core.errors import DataError
from ganforge.core.io import md5_file, sha256_bytes
from ganforge.data.fetch import RawFile, RawFiles, RawNeed, SourceContext
from ganforge.data.idx import check_images, check_labels, parse_idx, read_gzip
from ganforge.data.prepared import PreparedDataset

# SHA-256 of the *decompressed* canonical IDX files. The gzip bytes of a mirrored file may
# differ from the canonical download (re-compressed) while its content is the same, so a file
# passes if either its gzip MD5 (torchvision's table) or its content digest matches.
_IDX_SHA256 = {
    (
        "mnist",
        "t10k-images-idx3-ubyte.gz",
    ): "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    (
        "mnist",
        "t10k-labels-idx1-ubyte.gz",
    ): "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    (
        "fashion_mnist",
        "t10k-images-idx3-ubyte.gz",
    ): "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    (
        "fashion_mnist",
        "t10k-labels-idx1-ubyte.gz",
    ): "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    (
        "fashion_mnist",
        "train-images-idx3-ubyte.gz",
    ): "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    (
        "fashion_mnist",
        "train-labels-idx1-ubyte.gz",
    ): "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
}

_SPLIT_PREFIX = {"train": "train", "test": "t10k"}


@dataclass(frozen=True)
class MnistConfig:
    """An MNIST-family dataset: which split, and at most how many examples (the first ones)."""

    split: Literal["train", "test"] = "train"
    limit: int | None = None

    def __post_init__(self) -> None:
        check_limit(self.limit)


@dataclass(frozen=True)
class _Family:
    key: str
    mirror_dir: str
    torchvision_class: str
    class_names: tuple[str, ...] | None = None  # None: take torchvision's


_FAMILIES = {
    "mnist": _Family("mnist", "mnist", "MNIST", tuple(str(d) for d in range(10))),
    "fashion_mnist": _Family("fashion_mnist", "fashion-mnist", "FashionMNIST"),
}


def _torchvision_table(family: _Family) -> tuple[list[str], dict[str, str], list[str]]:
    """torchvision's mirrors, gzip MD5s and class names for this family."""
    import torchvision.datasets as tvd

    cls = getattr(tvd, family.torchvision_class)
    md5s = dict(cls.resources)
    names = list(family.class_names) if family.class_names else list(cls.classes)
    return list(cls.mirrors), md5s, names


def _verify(
    family: _Family, raw: RawFile, filename: str, content: bytes, gz_md5: str | None, enabled: bool
) -> dict[str, Any]:
    """Check a raw file against the canonical checksums; return what was checked."""
    record: dict[str, Any] = {
        "file": filename,
        "origin": raw.origin,
        "gzip_md5": md5_file(raw.path),
        "content_sha256": sha256_bytes(content),
    }
    if not enabled:
        record["verified_by"] = "not verified (data.verify_checksums is off)"
        return record
    if gz_md5 is not None and record["gzip_md5"] == gz_md5:
        record["verified_by"] = "gzip MD5 (torchvision)"
    elif _IDX_SHA256.get((family.key, filename)) == record["content_sha256"]:
        record["verified_by"] = "content SHA-256"
    else:
        raise DataError(
            f"{raw.path}: checksum mismatch: neither its gzip MD5 nor its decompressed SHA-256 "
            f"matches the canonical {family.key} file; it is corrupt or not the real data. "
            f"Delete it and fetch it again (or set data.verify_checksums: false for your own files)"
        )
    return record


def _read(
    family: _Family,
    files: RawFiles,
    filename: str,
    mirrors: list[str],
    md5s: dict[str, str],
    ctx: SourceContext,
    hint: str,
) -> tuple[np.ndarray, dict[str, Any]]:
    raw = files.get(filename, [m + filename for m in mirrors], hint=hint)
    content = read_gzip(raw.path)
    record = _verify(family, raw, filename, content, md5s.get(filename), ctx.verify_checksums)
    return parse_idx(content, str(raw.path)), record


def mnist_needs(which: str, cfg: MnistConfig) -> list[RawNeed]:
    """The IDX files a split reads."""
    prefix = _SPLIT_PREFIX[cfg.split]
    folder = _FAMILIES[which].mirror_dir
    return [
        RawNeed(folder, f"{prefix}-{part}-idx{dim}-ubyte.gz") for part, dim in (("images", 3), ("labels", 1))
    ]


def load_mnist_family(which: str, cfg: MnistConfig, ctx: SourceContext) -> PreparedDataset:
    """Read one split of MNIST or Fashion-MNIST into a prepared dataset."""
    family = _FAMILIES[which]
    mirrors, md5s, class_names = _torchvision_table(family)
    files = RawFiles(ctx, family.mirror_dir)
    prefix = _SPLIT_PREFIX[cfg.split]
    hint = ""
    if cfg.split == "train":
        hint = "if your mirror has only the test split (as shared/datasets does for MNIST), use split: test"
    images, img_rec = _read(family, files, f"{prefix}-images-idx3-ubyte.gz", mirrors, md5s, ctx, hint)
    labels, lab_rec = _read(family, files, f"{prefix}-labels-idx1-ubyte.gz", mirrors, md5s, ctx, hint)
    check_images(images, img_rec["file"], (28, 28))
    check_labels(labels, lab_rec["file"], images.shape[0], len(class_names))
    available = images.shape[0]
    keep = available if cfg.limit is None else min(cfg.limit, available)
    tensors = {
        "images": torch.from_numpy(images[:keep].copy()).unsqueeze(1),
        "labels": torch.from_numpy(labels[:keep].astype(np.int64)),
    }
    meta = {
        "source": (
            f"{which} IDX files ({family.mirror_dir}/ in the mirror, or torchvision's download mirrors)"
        ),
        "split": cfg.split,
        "stand_in": False,
        "inputs": [img_rec, lab_rec],
        "counts": {"available": available, "kept": keep, "skipped": 0},
        "limit": cfg.limit,
    }
    return PreparedDataset(ctx.name, "images", tensors, class_names, meta)
