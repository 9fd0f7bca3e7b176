"""Any folder of images, optionally labelled by a CSV: users' own data, and the emoji64
stand-in of the offline mirror."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ganforge.core.errors import DataError, MissingDataError
from ganforge.core.io import ManifestDigest, sha256_file
from ganforge.data.fetch import SourceContext
from ganforge.data.images import (
    DecodedImages,
    Resize,
    check_bad_fraction,
    check_image_options,
    decode_all,
    is_image_name,
)
from ganforge.data.prepared import PreparedDataset
from ganforge.data.streaming import StreamWriter, open_stream

STORAGES = ("compact", "streaming")


@dataclass(frozen=True)
class FolderConfig:
    """A folder of images. Give `path` (a folder on disk) or `mirror_path` (a folder inside
    the data mirror). With `labels_csv`, only the files it lists are used, labelled by
    `label_column`. `limit` keeps a random subset (drawn with `subset_seed`) before decoding.
    Images become square by `fit` (centre_crop | pad | stretch; `pad` fills with the grey
    level `pad_value`) and are resized with the PIL filter `resize_filter`. `storage`
    `streaming` decodes and writes `chunk` images at a time into the streaming format
    (`ganforge.data.streaming`), read back memory-mapped: for sets too large for one tensor."""

    path: str | None = None
    mirror_path: str | None = None
    images_dir: str = "."
    labels_csv: str | None = None
    file_column: str = "file"
    label_column: str = "label"
    image_size: int = 64
    channels: int = 3
    limit: int | None = None
    subset_seed: int = 0
    max_bad_fraction: float = 0.01
    stand_in_for: str | None = None
    resize_filter: str = "bicubic"
    fit: str = "centre_crop"
    pad_value: int = 0
    storage: str = "compact"
    chunk: int = 1024

    def __post_init__(self) -> None:
        if (self.path is None) == (self.mirror_path is None):
            raise ValueError("give exactly one of path and mirror_path")
        check_image_options(self.image_size, self.limit, self.max_bad_fraction)
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        _ = self.resize
        if self.storage not in STORAGES:
            raise ValueError(f"storage must be one of {', '.join(STORAGES)}, got {self.storage!r}")
        if self.chunk < 1:
            raise ValueError(f"chunk must be positive, got {self.chunk}")

    @property
    def resize(self) -> Resize:
        return Resize(self.resize_filter, self.fit, self.pad_value)


def resolve_root(cfg: FolderConfig | Any, ctx: SourceContext) -> Path:
    """The folder to read (a config's `mirror_path` inside the mirror, or its `path`);
    MissingDataError if absent."""
    if cfg.mirror_path is not None:
        if ctx.mirror is None:
            raise MissingDataError(
                f"{ctx.name}: reads {cfg.mirror_path}/ from the data mirror, but no mirror is set: "
                f"set GANFORGE_DATA_MIRROR (or data.mirror) to a folder laid out like shared/datasets"
            )
        root = ctx.mirror / cfg.mirror_path
    else:
        root = Path(cfg.path or "")
    if not root.is_dir():
        raise MissingDataError(f"{ctx.name}: image folder {root} does not exist or is not a folder")
    return root


def folder_missing(cfg: FolderConfig, ctx: SourceContext) -> list[str]:
    """A line if the folder is not there (a folder cannot be downloaded)."""
    try:
        resolve_root(cfg, ctx)
    except MissingDataError as exc:
        return [str(exc)]
    return []


def subset(n: int, limit: int | None, seed: int) -> np.ndarray:
    """Indices of a seeded random subset of size `limit` (all of them if None), in order."""
    if limit is None or limit >= n:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=limit, replace=False))


def _read_labels(csv_path: Path, cfg: FolderConfig, image_dir: Path) -> dict[str, str]:
    """file -> label from the CSV, checked against the folder's contents."""
    if not csv_path.is_file():
        raise MissingDataError(f"labels file {csv_path} does not exist")
    try:
        table = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{csv_path} is not a readable CSV file ({exc})") from exc
    for column in (cfg.file_column, cfg.label_column):
        if column not in table.columns:
            raise DataError(f"{csv_path} has no column {column!r} (columns: {', '.join(table.columns)})")
    files, labels = table[cfg.file_column].tolist(), table[cfg.label_column].tolist()
    dupes = sorted(f for f, n in Counter(files).items() if n > 1)
    if dupes:
        raise DataError(f"{csv_path} lists files more than once: {', '.join(dupes[:5])}")
    empty = [f for f, lab in zip(files, labels, strict=True) if not lab.strip()]
    if empty:
        raise DataError(f"{csv_path}: {len(empty)} files have an empty {cfg.label_column!r}, e.g. {empty[0]}")
    missing = [f for f in files if not (image_dir / f).is_file()]
    if missing:
        raise DataError(
            f"{csv_path} names {len(missing)} files that are not in {image_dir}: "
            f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}"
        )
    return dict(zip(files, labels, strict=True))


def load_folder(cfg: FolderConfig, ctx: SourceContext) -> PreparedDataset:
    """Decode a folder of images (and its labels) into a prepared dataset."""
    root = resolve_root(cfg, ctx)
    image_dir = root / cfg.images_dir
    if not image_dir.is_dir():
        raise MissingDataError(f"{ctx.name}: image folder {image_dir} does not exist")
    found = sorted(
        p.relative_to(image_dir).as_posix()
        for p in image_dir.rglob("*")
        if p.is_file() and is_image_name(p.name)
    )
    label_of: dict[str, str] | None = None
    inputs: list[dict[str, str]] = []
    if cfg.labels_csv is not None:
        csv_path = root / cfg.labels_csv
        label_of = _read_labels(csv_path, cfg, image_dir)
        inputs.append({"file": cfg.labels_csv, "sha256": sha256_file(csv_path)})
        names = sorted(label_of)
    else:
        names = found
    if not names:
        raise DataError(f"{ctx.name}: no image files in {image_dir}")
    chosen = [names[i] for i in subset(len(names), cfg.limit, cfg.subset_seed)]
    class_names = sorted(set(label_of.values())) if label_of is not None else []
    index = {c: i for i, c in enumerate(class_names)}

    def labels_of(decoded_names: list[str]) -> np.ndarray | None:
        if label_of is None:
            return None
        return np.array([index[label_of[n]] for n in decoded_names], dtype=np.int64)

    digest = ManifestDigest()
    items = [(n, digest.reader(n, (image_dir / n).read_bytes)) for n in chosen]
    where = f"{ctx.name} ({image_dir})"
    backing: Path | None = None
    if cfg.storage == "streaming":
        backing = ctx.prepared_dir / f".{ctx.name}.stream.tmp"
        decoded = stream_decoded(items, backing, cfg, labels_of, ctx.name, class_names)
        _, tensors = open_stream(backing)
    else:
        decoded = decode_all(items, cfg.image_size, cfg.channels, resize=cfg.resize)
        check_bad_fraction(decoded, cfg.max_bad_fraction, where)
        tensors = {"images": torch.from_numpy(decoded.stacked(cfg.image_size, cfg.channels))}
        labels = labels_of(decoded.names)
        if labels is not None:
            tensors["labels"] = torch.from_numpy(labels)
    inputs.append(
        {"files": f"{cfg.images_dir}/ ({digest.files} images)", "manifest_sha256": digest.hexdigest()}
    )
    meta = {
        "source": f"image folder ({'mirror: ' + cfg.mirror_path if cfg.mirror_path else cfg.path})",
        "stand_in": cfg.stand_in_for is not None,
        "stand_in_for": cfg.stand_in_for,
        "inputs": inputs,
        "counts": {**decoded.counts(), "available": len(names), "unlisted": len(set(found) - set(names))},
        "skipped_files": decoded.skipped_listing(),
        "image_size": cfg.image_size,
        "limit": cfg.limit,
        "resize": cfg.resize.describe(),
    }
    if backing is not None:
        meta["chunk"] = cfg.chunk
    return PreparedDataset(ctx.name, "images", tensors, class_names, meta, backing=backing)


def stream_decoded(
    items: list[tuple[str, Callable[[], bytes]]],
    target: Path,
    cfg: FolderConfig,
    labels_of: Callable[[list[str]], np.ndarray | None],
    name: str,
    class_names: list[str],
) -> DecodedImages:
    """Decode `cfg.chunk` images at a time into the streaming file `target`, so no more than
    one chunk of decoded images is in memory; return the names and skips (no arrays)."""
    shape = (cfg.channels, cfg.image_size, cfg.image_size)
    summary = DecodedImages()
    with StreamWriter(target, shape) as writer:
        for start in range(0, len(items), cfg.chunk):
            part = decode_all(
                items[start : start + cfg.chunk], cfg.image_size, cfg.channels, resize=cfg.resize
            )
            if part.names:
                writer.append(part.stacked(cfg.image_size, cfg.channels), labels_of(part.names))
            summary.names += part.names
            summary.skipped += part.skipped
        check_bad_fraction(summary, cfg.max_bad_fraction, f"{name} ({target.parent})")
        writer.finish(name, class_names)
    return summary
