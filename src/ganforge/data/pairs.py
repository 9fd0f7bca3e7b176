"""Your own translation data: a paired folder (each image A|B side by side, as the pix2pix
archives are laid out, or two folders whose files are matched by name) and an unpaired pair
of folders (as the CycleGAN archives: trainA/ and trainB/)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from ganforge.core.errors import DataError, MissingDataError
from ganforge.core.io import ManifestDigest
from ganforge.data.archives import decode_side_by_side
from ganforge.data.fetch import SourceContext
from ganforge.data.folder import resolve_root, subset
from ganforge.data.images import check_bad_fraction, check_image_options, decode_all, is_image_name
from ganforge.data.prepared import PreparedDataset, check_holdout, heldout_mask


@dataclass(frozen=True)
class FolderPairConfig:
    """What both folder sources share: where (`path`, or `mirror_path` inside the mirror),
    the size and channels of each domain, a seeded subset (`limit`), the tolerated bad files,
    and the `holdout` fraction that is never trained on."""

    path: str | None = None
    mirror_path: str | None = None
    a_dir: str = "A"
    b_dir: str = "B"
    image_size: int = 64
    channels_a: int = 3
    channels_b: int = 3
    limit: int | None = None
    subset_seed: int = 0
    max_bad_fraction: float = 0.01
    holdout: float = 0.1
    holdout_seed: int = 0

    def __post_init__(self) -> None:
        if (self.path is None) == (self.mirror_path is None):
            raise ValueError("give exactly one of path and mirror_path")
        check_image_options(self.image_size, self.limit, self.max_bad_fraction)
        check_holdout(self.holdout)
        if self.channels_a not in (1, 3) or self.channels_b not in (1, 3):
            raise ValueError("channels_a and channels_b must be 1 or 3")


@dataclass(frozen=True)
class PairedFolderConfig(FolderPairConfig):
    """Aligned pairs. `layout` `side_by_side`: every image in `images_dir` holds A on its
    left half and B on its right (both read as RGB); `folders`: `a_dir` and `b_dir` hold A
    and B under the same file names."""

    layout: Literal["side_by_side", "folders"] = "side_by_side"
    images_dir: str = "."


@dataclass(frozen=True)
class UnpairedFoldersConfig(FolderPairConfig):
    """Two domains with no pairing: the images of `a_dir` and of `b_dir` (`limit` keeps a
    seeded subset of each, `holdout` is drawn per domain)."""


def _images_in(folder: Path, where: str) -> list[str]:
    if not folder.is_dir():
        raise MissingDataError(f"{where}: image folder {folder} does not exist")
    names = sorted(
        p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and is_image_name(p.name)
    )
    if not names:
        raise DataError(f"{where}: no image files in {folder}")
    return names


def _to_channels(arrays: np.ndarray, channels: int) -> np.ndarray:
    """uint8 N×3×H×W RGB → N×1×H×W luma when `channels` is 1."""
    if channels == 3:
        return arrays
    luma = np.tensordot(np.array([0.299, 0.587, 0.114]), arrays.astype(np.float64), axes=([0], [1]))
    return np.clip(np.round(luma), 0, 255).astype(np.uint8)[:, None]


def load_paired_folder(cfg: PairedFolderConfig, ctx: SourceContext) -> PreparedDataset:
    """Aligned (A, B) pairs from a folder of side-by-side images or two matched folders."""
    root = resolve_root(cfg, ctx)
    digest = ManifestDigest()
    if cfg.layout == "side_by_side":
        folder = root / cfg.images_dir
        names = _images_in(folder, ctx.name)
        chosen = [names[i] for i in subset(len(names), cfg.limit, cfg.subset_seed)]
        decoded = decode_all(
            ((n, digest.reader(n, (folder / n).read_bytes)) for n in chosen),
            cfg.image_size,
            3,
            decode=lambda data: decode_side_by_side(data, cfg.image_size),
        )
        check_bad_fraction(decoded, cfg.max_bad_fraction, f"{ctx.name} ({folder})")
        pairs = np.stack(decoded.arrays)
        a, b = pairs[:, 0], pairs[:, 1]
        counts, skipped = decoded.counts(), decoded.skipped_listing()
    else:
        folders = {side: root / d for side, d in (("a", cfg.a_dir), ("b", cfg.b_dir))}
        listed = {side: set(_images_in(f, ctx.name)) for side, f in folders.items()}
        matched = sorted(listed["a"] & listed["b"])
        if not matched:
            raise DataError(f"{ctx.name}: no file name is in both {folders['a']} and {folders['b']}")
        chosen = [matched[i] for i in subset(len(matched), cfg.limit, cfg.subset_seed)]
        sides = {}
        for side, folder in folders.items():
            decoded = decode_all(
                ((n, digest.reader(f"{side}/{n}", (folder / n).read_bytes)) for n in chosen),
                cfg.image_size,
                3,
            )
            check_bad_fraction(decoded, cfg.max_bad_fraction, f"{ctx.name} ({folder})")
            sides[side] = decoded
        keep = sorted(set(sides["a"].names) & set(sides["b"].names))  # pairs whose two images decoded
        a = np.stack([arr for n, arr in zip(sides["a"].names, sides["a"].arrays, strict=True) if n in keep])
        b = np.stack([arr for n, arr in zip(sides["b"].names, sides["b"].arrays, strict=True) if n in keep])
        counts = {
            "matched": len(matched),
            "kept": len(keep),
            "unmatched": len(listed["a"] ^ listed["b"]),
            "skipped": len(chosen) - len(keep),
        }
        skipped = sides["a"].skipped_listing() + sides["b"].skipped_listing()
    tensors = {
        "a": torch.from_numpy(_to_channels(a, cfg.channels_a)),
        "b": torch.from_numpy(_to_channels(b, cfg.channels_b)),
        "heldout": heldout_mask(len(a), cfg.holdout, cfg.holdout_seed),
    }
    meta = {
        "source": (
            f"paired folder ({cfg.layout}; {'mirror: ' + cfg.mirror_path if cfg.mirror_path else cfg.path})"
        ),
        "stand_in": False,
        "inputs": [{"files": f"{digest.files} images", "manifest_sha256": digest.hexdigest()}],
        "counts": counts,
        "skipped_files": skipped,
        "domains": {"a": "A", "b": "B"},
        "true_mapping": "pairs: a[i] and b[i] are aligned",
        "image_size": cfg.image_size,
        "holdout": {"fraction": cfg.holdout, "seed": cfg.holdout_seed},
    }
    return PreparedDataset(ctx.name, "paired", tensors, [], meta)


def load_unpaired_folders(cfg: UnpairedFoldersConfig, ctx: SourceContext) -> PreparedDataset:
    """Two unpaired domains from two folders."""
    root = resolve_root(cfg, ctx)
    digest = ManifestDigest()
    tensors: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}
    skipped: list[dict[str, str]] = []
    for seed_offset, (side, d, channels) in enumerate(
        (("a", cfg.a_dir, cfg.channels_a), ("b", cfg.b_dir, cfg.channels_b))
    ):
        folder = root / d
        names = _images_in(folder, ctx.name)
        chosen = [names[i] for i in subset(len(names), cfg.limit, cfg.subset_seed)]
        decoded = decode_all(
            ((n, digest.reader(f"{side}/{n}", (folder / n).read_bytes)) for n in chosen),
            cfg.image_size,
            channels,
        )
        check_bad_fraction(decoded, cfg.max_bad_fraction, f"{ctx.name} ({folder})")
        tensors[side] = torch.from_numpy(decoded.stacked(cfg.image_size, channels))
        tensors[f"heldout_{side}"] = heldout_mask(
            len(decoded.names), cfg.holdout, cfg.holdout_seed + seed_offset
        )
        counts.update({f"{side}_{k}": v for k, v in decoded.counts().items()})
        skipped += decoded.skipped_listing()
    meta = {
        "source": f"unpaired folders ({'mirror: ' + cfg.mirror_path if cfg.mirror_path else cfg.path})",
        "stand_in": False,
        "inputs": [{"files": f"{digest.files} images", "manifest_sha256": digest.hexdigest()}],
        "counts": counts,
        "skipped_files": skipped,
        "domains": {"a": cfg.a_dir, "b": cfg.b_dir},
        "true_mapping": None,
        "image_size": cfg.image_size,
        "holdout": {"fraction": cfg.holdout, "seed": cfg.holdout_seed},
    }
    return PreparedDataset(ctx.name, "unpaired", tensors, [], meta)
