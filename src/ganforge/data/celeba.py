"""CelebA "Align&Cropped" (Liu et al. 2015): `img_align_celeba.zip` (202,599 aligned 178×218
JPEGs), its 40 binary attributes (`list_attr_celeba.txt`) and, for a partition, the official
train/val/test split (`list_eval_partition.txt`). CelebA's files live on Google Drive behind a
quota, so there is no download here: the files come from the mirror (`celeba/`) or the
download cache, where the user puts them. MD5s are torchvision's table."""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from ganforge.core.errors import DataError
from ganforge.core.io import ManifestDigest
from ganforge.data.anime import read_member
from ganforge.data.fetch import RawFile, RawFiles, RawNeed, SourceContext, missing_lines
from ganforge.data.folder import subset
from ganforge.data.images import (
    Resize,
    check_bad_fraction,
    check_image_options,
    check_resize_filter,
    decode_all,
    is_image_name,
)
from ganforge.data.prepared import PreparedDataset

ARCHIVE = "img_align_celeba.zip"
ATTRIBUTES = "list_attr_celeba.txt"
PARTITIONS = "list_eval_partition.txt"
MEMBER_DIR = "img_align_celeba"
ALIGNED_SIZE = (178, 218)  # width, height of every aligned image
PARTITION_CODES = {"train": 0, "val": 1, "test": 2}
_SIGNS = frozenset(("1", "-1"))

# The 40 attributes of list_attr_celeba.txt, in its order.
ATTRIBUTE_NAMES = (
    "5_o_Clock_Shadow",
    "Arched_Eyebrows",
    "Attractive",
    "Bags_Under_Eyes",
    "Bald",
    "Bangs",
    "Big_Lips",
    "Big_Nose",
    "Black_Hair",
    "Blond_Hair",
    "Blurry",
    "Brown_Hair",
    "Bushy_Eyebrows",
    "Chubby",
    "Double_Chin",
    "Eyeglasses",
    "Goatee",
    "Gray_Hair",
    "Heavy_Makeup",
    "High_Cheekbones",
    "Male",
    "Mouth_Slightly_Open",
    "Mustache",
    "Narrow_Eyes",
    "No_Beard",
    "Oval_Face",
    "Pale_Skin",
    "Pointy_Nose",
    "Receding_Hairline",
    "Rosy_Cheeks",
    "Sideburns",
    "Smiling",
    "Straight_Hair",
    "Wavy_Hair",
    "Wearing_Earrings",
    "Wearing_Hat",
    "Wearing_Lipstick",
    "Wearing_Necklace",
    "Wearing_Necktie",
    "Young",
)

HINT = (
    "CelebA cannot be downloaded here: get img_align_celeba.zip (Google Drive folder Img/), "
    "list_attr_celeba.txt (Anno/) and list_eval_partition.txt (Eval/) from "
    "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html and put them in {places}"
)


@dataclass(frozen=True)
class CelebaConfig:
    """CelebA aligned faces: the centred crop×crop square of each 178×218 image, resized to
    image_size with the PIL filter `resize_filter`; one official `partition` (train, val,
    test, or all); optionally labelled by one binary attribute (`label_attribute`, e.g.
    Male: 0 = not Male, 1 = Male); a random subset of `limit` drawn with `subset_seed`."""

    image_size: int = 64
    crop: int = 140
    resize_filter: str = "bicubic"
    partition: Literal["train", "val", "test", "all"] = "all"
    label_attribute: str | None = None
    limit: int | None = None
    subset_seed: int = 0
    max_bad_fraction: float = 0.01

    def __post_init__(self) -> None:
        check_image_options(self.image_size, self.limit, self.max_bad_fraction)
        check_resize_filter(self.resize_filter)
        if not 1 <= self.crop <= min(ALIGNED_SIZE):
            raise ValueError(
                f"crop must be from 1 to {min(ALIGNED_SIZE)} (the aligned images are "
                f"{ALIGNED_SIZE[0]}x{ALIGNED_SIZE[1]}), got {self.crop}"
            )
        if self.partition not in (*PARTITION_CODES, "all"):
            raise ValueError(f"unknown partition {self.partition!r}; known: train, val, test, all")
        if self.label_attribute is not None and self.label_attribute not in ATTRIBUTE_NAMES:
            raise ValueError(
                f"unknown CelebA attribute {self.label_attribute!r}; known: {', '.join(ATTRIBUTE_NAMES)}"
            )

    @property
    def resize(self) -> Resize:
        return Resize(self.resize_filter)


def _torchvision_md5s() -> dict[str, str]:
    """CelebA's published MD5s by file name, from torchvision's table."""
    from torchvision.datasets import CelebA

    return {filename: md5 for _file_id, md5, filename in CelebA.file_list}


def _digests(path: Path) -> tuple[str, str]:
    """MD5 and SHA-256 of a file, in one pass (the image archive is 1.4 GB)."""
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            md5.update(chunk)
            sha.update(chunk)
    return md5.hexdigest(), sha.hexdigest()


def _verify(raw: RawFile, filename: str, expected: str | None, enabled: bool) -> dict[str, Any]:
    """Check a raw file against CelebA's MD5; return what was checked for the metadata."""
    md5, sha = _digests(raw.path)
    record: dict[str, Any] = {"file": filename, "origin": raw.origin, "md5": md5, "sha256": sha}
    if not enabled:
        record["verified_by"] = "not verified (data.verify_checksums is off)"
    elif expected is None:
        record["verified_by"] = "not verified (no published MD5)"
    elif md5 != expected:
        raise DataError(
            f"{raw.path}: MD5 {md5} is not CelebA's published {expected} (torchvision's table): the file is "
            f"corrupt, truncated or not the official {filename}. Delete it and put the official file "
            f"there (or set data.verify_checksums: false for your own files)"
        )
    else:
        record["verified_by"] = "MD5 (torchvision's CelebA table)"
    return record


def _text_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="ascii").splitlines()
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not a CelebA text file (not ASCII: {exc})") from exc


@dataclass
class _Attributes:
    names: list[str]
    files: list[str]
    values: np.ndarray  # int8 N×A of ±1
    line_of: dict[str, int]


def read_attributes(path: Path) -> _Attributes:
    """Parse list_attr_celeba.txt: the image count, the attribute names, then one row of ±1
    per image; DataError naming the first bad line."""
    lines = _text_lines(path)
    if len(lines) < 2:
        raise DataError(
            f"{path}: too short for a CelebA attribute file (needs the image count and the "
            f"attribute names on lines 1 and 2)"
        )
    try:
        count = int(lines[0].strip())
    except ValueError:
        raise DataError(
            f"{path} line 1: expected the number of images, got {lines[0].strip()[:40]!r}"
        ) from None
    names = lines[1].split()
    if not names or len(set(names)) != len(names):
        raise DataError(f"{path} line 2: expected distinct attribute names, got {lines[1].strip()[:80]!r}")
    files: list[str] = []
    rows: list[str] = []
    line_of: dict[str, int] = {}
    for number, line in enumerate(lines[2:], start=3):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != len(names) + 1:
            raise DataError(
                f"{path} line {number}: {len(fields) - 1} values for {len(names)} attributes "
                f"(expected: file name and {len(names)} values of 1 or -1)"
            )
        if not _SIGNS.issuperset(fields[1:]):
            bad = next(v for v in fields[1:] if v not in _SIGNS)
            raise DataError(f"{path} line {number}: attribute value {bad[:20]!r} is not 1 or -1")
        name = fields[0]
        if name in line_of:
            raise DataError(f"{path} line {number}: {name} is listed again (first on line {line_of[name]})")
        line_of[name] = number
        files.append(name)
        rows.append("".join(fields[1:]))
    if len(files) != count:
        raise DataError(f"{path} line 1: says {count} images, but the file lists {len(files)}")
    # each row is now a run of "1" and "-1": a "-" marks the -1s, so a 1 is a digit not after "-"
    signs = np.frombuffer("".join(rows).encode("ascii"), dtype=np.uint8)
    digits = signs != ord("-")
    negative = np.zeros_like(digits)
    negative[1:] = signs[:-1] == ord("-")
    values = np.where(negative[digits], -1, 1).astype(np.int8).reshape(len(files), len(names))
    return _Attributes(names, files, values, line_of)


def read_partitions(path: Path) -> dict[str, int]:
    """Parse list_eval_partition.txt: `<file> <0|1|2>` per line (train, val, test)."""
    out: dict[str, int] = {}
    for number, line in enumerate(_text_lines(path), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
            raise DataError(f"{path} line {number}: expected `<file> <0|1|2>`, got {line.strip()[:60]!r}")
        out[fields[0]] = int(fields[1])
    return out


def _partition_rows(attrs: _Attributes, partition: str, raw: RawFile) -> list[int]:
    """Row indices of the images in one official partition."""
    partition_of = read_partitions(raw.path)
    missing = [f for f in attrs.files if f not in partition_of]
    if missing:
        raise DataError(
            f"{raw.path}: {len(missing)} images of {ATTRIBUTES} have no partition, e.g. "
            f"{missing[0]} ({ATTRIBUTES} line {attrs.line_of[missing[0]]})"
        )
    code = PARTITION_CODES[partition]
    return [i for i, f in enumerate(attrs.files) if partition_of[f] == code]


def celeba_needs(cfg: CelebaConfig) -> list[RawNeed]:
    """The raw files a configuration reads (the partition list only for a partition)."""
    names = [ARCHIVE, ATTRIBUTES] + ([PARTITIONS] if cfg.partition != "all" else [])
    return [RawNeed("celeba", name) for name in names]


def celeba_missing(cfg: CelebaConfig, ctx: SourceContext) -> list[str]:
    """A line for each raw file not at hand, network or not: CelebA is never downloaded."""
    return missing_lines(ctx, celeba_needs(cfg))


def load_celeba(cfg: CelebaConfig, ctx: SourceContext) -> PreparedDataset:
    """Read CelebA's aligned images and attributes (mirror or download cache) into a
    prepared dataset."""
    files = RawFiles(ctx, "celeba")
    places = f"<mirror>/celeba/ (GANFORGE_DATA_MIRROR) or {files.cache_dir}/"
    hint = HINT.format(places=places)
    md5s = _torchvision_md5s()
    zip_raw = files.get(ARCHIVE, [], hint=hint)
    attr_raw = files.get(ATTRIBUTES, [], hint=hint)
    zip_rec = _verify(zip_raw, ARCHIVE, md5s.get(ARCHIVE), ctx.verify_checksums)
    attr_rec = _verify(attr_raw, ATTRIBUTES, md5s.get(ATTRIBUTES), ctx.verify_checksums)
    attrs = read_attributes(attr_raw.path)
    if cfg.label_attribute is not None and cfg.label_attribute not in attrs.names:
        raise DataError(
            f"{attr_raw.path} has no attribute {cfg.label_attribute!r}; known: {', '.join(attrs.names)}"
        )
    inputs = [zip_rec, attr_rec]
    rows = list(range(len(attrs.files)))
    if cfg.partition != "all":
        needs = f"partition: {cfg.partition} needs {PARTITIONS} (partition: all does not); {hint}"
        part_raw = files.get(PARTITIONS, [], hint=needs)
        inputs.append(_verify(part_raw, PARTITIONS, md5s.get(PARTITIONS), ctx.verify_checksums))
        rows = _partition_rows(attrs, cfg.partition, part_raw)
    try:
        archive = zipfile.ZipFile(zip_raw.path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(
            f"{zip_raw.path} is not a readable zip archive ({exc}); it may be truncated: "
            f"put the complete file there again"
        ) from exc
    resize = cfg.resize
    with archive:
        members = {n for n in archive.namelist() if not n.endswith("/")}
        absent = [f for f in attrs.files if f"{MEMBER_DIR}/{f}" not in members]
        if absent:
            raise DataError(
                f"{attr_raw.path} line {attrs.line_of[absent[0]]}: {absent[0]} is not in "
                f"{zip_raw.path.name} (as {MEMBER_DIR}/{absent[0]}; {len(absent)} listed images "
                f"are missing)"
            )
        if not rows:
            raise DataError(f"{ctx.name}: partition {cfg.partition} holds no images")
        chosen = [rows[i] for i in subset(len(rows), cfg.limit, cfg.subset_seed)]
        digest = ManifestDigest()

        def reader(name: str) -> Callable[[], bytes]:
            member = f"{MEMBER_DIR}/{name}"
            return digest.reader(member, lambda: read_member(archive, member))

        decoded = decode_all(
            ((attrs.files[i], reader(attrs.files[i])) for i in chosen),
            cfg.image_size,
            3,
            resize=resize,
            crop=cfg.crop,
        )
    check_bad_fraction(decoded, cfg.max_bad_fraction, f"{ctx.name} ({zip_raw.path.name})")
    zip_rec["manifest_sha256"] = digest.hexdigest()
    tensors = {"images": torch.from_numpy(decoded.stacked(cfg.image_size, 3))}
    class_names: list[str] = []
    if cfg.label_attribute is not None:
        column = attrs.names.index(cfg.label_attribute)
        row_of = {f: i for i, f in enumerate(attrs.files)}
        positive = attrs.values[[row_of[n] for n in decoded.names], column] == 1
        tensors["labels"] = torch.from_numpy(positive.astype(np.int64))
        class_names = [f"not {cfg.label_attribute}", cfg.label_attribute]
    antialias = "antialiased" if resize.filter != "nearest" else "not antialiased"
    listed = {f"{MEMBER_DIR}/{f}" for f in attrs.files}
    unlisted = sum(
        1 for m in members if m.startswith(f"{MEMBER_DIR}/") and is_image_name(m) and m not in listed
    )
    meta = {
        "source": f"CelebA aligned & cropped ({ARCHIVE}, {ATTRIBUTES}; celeba/ in the mirror)",
        "stand_in": False,
        "inputs": inputs,
        "counts": {
            **decoded.counts(),
            "available": len(rows),
            "listed": len(attrs.files),
            "unlisted": unlisted,
        },
        "skipped_files": decoded.skipped_listing(),
        "image_size": cfg.image_size,
        "limit": cfg.limit,
        "crop": cfg.crop,
        "partition": cfg.partition,
        "split": cfg.partition,
        "label_attribute": cfg.label_attribute,
        "preprocessing": (
            f"centre crop {cfg.crop}x{cfg.crop} of the aligned {ALIGNED_SIZE[0]}x{ALIGNED_SIZE[1]} "
            f"image, resize to {cfg.image_size} with PIL {resize.filter} ({antialias})"
        ),
        "resize": resize.describe(),
    }
    return PreparedDataset(ctx.name, "images", tensors, class_names, meta)
