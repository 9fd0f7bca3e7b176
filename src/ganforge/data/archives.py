"""The public pix2pix (paired, `A|B` side by side) and CycleGAN (unpaired, `trainA`/`trainB`)
archives, downloaded from their authors' server or read from the mirror (`pix2pix/<name>.tar.gz`,
`cyclegan/<name>.zip`)."""

from __future__ import annotations

import io
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from PIL import Image

from ganforge.core.errors import DataError, unknown_name
from ganforge.core.io import ManifestDigest, sha256_file
from ganforge.data.fetch import RawFile, RawFiles, RawNeed, SourceContext
from ganforge.data.folder import subset
from ganforge.data.images import (
    DecodedImages,
    check_bad_fraction,
    check_image_options,
    decode_all,
    decode_image,
    is_image_name,
)
from ganforge.data.prepared import PreparedDataset, check_holdout, heldout_mask

PIX2PIX_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/{name}.tar.gz"
CYCLEGAN_URL = "http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/{name}.zip"
PIX2PIX_SETS = ("cityscapes", "edges2handbags", "edges2shoes", "facades", "maps", "night2day")
CYCLEGAN_SETS = (
    "ae_photos",
    "apple2orange",
    "cezanne2photo",
    "cityscapes",
    "facades",
    "horse2zebra",
    "iphone2dslr_flower",
    "maps",
    "monet2photo",
    "summer2winter_yosemite",
    "ukiyoe2photo",
    "vangogh2photo",
)


@dataclass(frozen=True)
class ArchiveConfig:
    """One published archive: which set, which split, the size to resize to, a subset, and
    the fraction of it held out (never trained on, scored), drawn with `holdout_seed`."""

    archive: str
    split: Literal["train", "val", "test"] = "train"
    image_size: int = 128
    limit: int | None = None
    subset_seed: int = 0
    max_bad_fraction: float = 0.01
    holdout: float = 0.1
    holdout_seed: int = 0

    def __post_init__(self) -> None:
        check_image_options(self.image_size, self.limit, self.max_bad_fraction)
        check_holdout(self.holdout)


# An archive opened for reading: sorted member names and a function reading one member.
Members = tuple[list[str], Callable[[str], bytes]]


@contextmanager
def open_archive(raw: RawFile) -> Iterator[Members]:
    """Open a .tar.gz or .zip archive; DataError if it is damaged."""
    try:
        if raw.path.name.endswith(".zip"):
            with zipfile.ZipFile(raw.path) as zf:
                yield sorted(zf.namelist()), zf.read
        else:
            with tarfile.open(raw.path, "r:*") as tf:
                members = {m.name: m for m in tf.getmembers() if m.isfile()}

                def read(name: str) -> bytes:
                    fh = tf.extractfile(members[name])
                    if fh is None:
                        raise OSError(f"cannot read {name}")
                    return fh.read()

                yield sorted(members), read
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{raw.path} is a damaged archive ({exc}); delete it and fetch it again") from exc


def decode_side_by_side(data: bytes, size: int) -> np.ndarray:
    """A pix2pix `A|B` image → uint8 2×3×size×size (A, then B)."""
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        img = img.convert("RGB")
    w, h = img.size
    if w < 2:
        raise ValueError(f"image of width {w} cannot hold two halves")
    halves = [img.crop((0, 0, w // 2, h)), img.crop((w // 2, 0, 2 * (w // 2), h))]
    out = [np.asarray(half.resize((size, size), Image.Resampling.BICUBIC), dtype=np.uint8) for half in halves]
    return np.stack(out).transpose(0, 3, 1, 2)


def _select(names: list[str], prefix: str, cfg: ArchiveConfig) -> list[str]:
    chosen = [n for n in names if n.startswith(prefix) and is_image_name(n)]
    return [chosen[i] for i in subset(len(chosen), cfg.limit, cfg.subset_seed)]


def _fetch(ctx: SourceContext, kind: str, filename: str, url: str) -> RawFile:
    return RawFiles(ctx, kind).get(filename, [url])


def _decode(
    names: list[str],
    read: Callable[[str], bytes],
    digest: ManifestDigest,
    decode: Callable[[bytes], np.ndarray],
    where: str,
    cfg: ArchiveConfig,
) -> DecodedImages:
    if not names:
        raise DataError(f"{where}: no images for split {cfg.split!r}")
    items = ((n, digest.reader(n, lambda n=n: read(n))) for n in names)
    decoded = decode_all(items, cfg.image_size, 3, decode=decode)
    check_bad_fraction(decoded, cfg.max_bad_fraction, where)
    return decoded


def pix2pix_needs(cfg: ArchiveConfig) -> list[RawNeed]:
    return [RawNeed("pix2pix", f"{cfg.archive}.tar.gz")]


def cyclegan_needs(cfg: ArchiveConfig) -> list[RawNeed]:
    return [RawNeed("cyclegan", f"{cfg.archive}.zip")]


def load_pix2pix(cfg: ArchiveConfig, ctx: SourceContext) -> PreparedDataset:
    """A paired pix2pix set: `a` is the left half of each image, `b` the right half."""
    if cfg.archive not in PIX2PIX_SETS:
        raise unknown_name("pix2pix archive", cfg.archive, PIX2PIX_SETS)
    filename = f"{cfg.archive}.tar.gz"
    raw = _fetch(ctx, "pix2pix", filename, PIX2PIX_URL.format(name=cfg.archive))
    digest = ManifestDigest()
    with open_archive(raw) as (names, read):
        chosen = _select(names, f"{cfg.archive}/{cfg.split}/", cfg)
        decoded = _decode(
            chosen,
            read,
            digest,
            lambda b: decode_side_by_side(b, cfg.image_size),
            f"{ctx.name} ({filename})",
            cfg,
        )
    pairs = torch.from_numpy(np.stack(decoded.arrays))
    meta = {
        "source": f"pix2pix archive {cfg.archive} ({cfg.split} split)",
        "stand_in": False,
        "inputs": [
            {
                "file": filename,
                "origin": raw.origin,
                "sha256": sha256_file(raw.path),
                "manifest_sha256": digest.hexdigest(),
            }
        ],
        "counts": decoded.counts(),
        "skipped_files": decoded.skipped_listing(),
        "domains": {"a": "left half of each image", "b": "right half of each image"},
        "true_mapping": "pairs: a[i] and b[i] are the two halves of one published image",
        "image_size": cfg.image_size,
        "holdout": {"fraction": cfg.holdout, "seed": cfg.holdout_seed},
    }
    tensors = {
        "a": pairs[:, 0].contiguous(),
        "b": pairs[:, 1].contiguous(),
        "heldout": heldout_mask(len(pairs), cfg.holdout, cfg.holdout_seed),
    }
    return PreparedDataset(ctx.name, "paired", tensors, [], meta)


def load_cyclegan(cfg: ArchiveConfig, ctx: SourceContext) -> PreparedDataset:
    """An unpaired CycleGAN set: domain A from `<split>A/`, domain B from `<split>B/`."""
    if cfg.archive not in CYCLEGAN_SETS:
        raise unknown_name("CycleGAN archive", cfg.archive, CYCLEGAN_SETS)
    if cfg.split == "val":
        raise DataError("CycleGAN archives have train and test splits only")
    filename = f"{cfg.archive}.zip"
    raw = _fetch(ctx, "cyclegan", filename, CYCLEGAN_URL.format(name=cfg.archive))
    domains: dict[str, DecodedImages] = {}
    digest = ManifestDigest()
    with open_archive(raw) as (names, read):
        for side in ("A", "B"):
            chosen = _select(names, f"{cfg.archive}/{cfg.split}{side}/", cfg)
            domains[side] = _decode(
                chosen,
                read,
                digest,
                lambda b: decode_image(b, cfg.image_size, 3),
                f"{ctx.name} ({filename}, {cfg.split}{side})",
                cfg,
            )
    meta = {
        "source": f"CycleGAN archive {cfg.archive} ({cfg.split} split)",
        "stand_in": False,
        "inputs": [
            {
                "file": filename,
                "origin": raw.origin,
                "sha256": sha256_file(raw.path),
                "manifest_sha256": digest.hexdigest(),
            }
        ],
        "counts": {f"{side.lower()}_{k}": v for side, d in domains.items() for k, v in d.counts().items()},
        "skipped_files": domains["A"].skipped_listing() + domains["B"].skipped_listing(),
        "domains": {"a": f"{cfg.split}A", "b": f"{cfg.split}B"},
        "true_mapping": None,
        "image_size": cfg.image_size,
        "holdout": {"fraction": cfg.holdout, "seed": cfg.holdout_seed},
    }
    tensors = {
        "a": torch.from_numpy(domains["A"].stacked(cfg.image_size, 3)),
        "b": torch.from_numpy(domains["B"].stacked(cfg.image_size, 3)),
    }
    tensors["heldout_a"] = heldout_mask(len(tensors["a"]), cfg.holdout, cfg.holdout_seed)
    tensors["heldout_b"] = heldout_mask(len(tensors["b"]), cfg.holdout, cfg.holdout_seed + 1)
    return PreparedDataset(ctx.name, "unpaired", tensors, [], meta)
