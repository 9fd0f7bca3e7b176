"""CIFAR-10 and CIFAR-100 from their *binary* archives (`cifar-10-binary.tar.gz`,
`cifar-100-binary.tar.gz`): fixed-length records of label bytes and 3,072 pixel bytes,
read straight out of the tar.gz without extracting it. The Python archives are pickles, and
a data file must never be able to run code: they are refused, never opened."""

from __future__ import annotations

import tarfile
import zlib
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from ganforge.core.config import check_limit
from ganforge.core.errors import DataError, MissingDataError
from ganforge.core.io import md5_file, sha256_file
from ganforge.data.fetch import RawFile, RawFiles, RawNeed, SourceContext
from ganforge.data.prepared import PreparedDataset

_PIXELS = 3 * 32 * 32
_BASE_URL = "https://www.cs.toronto.edu/~kriz/"


@dataclass(frozen=True)
class _Family:
    """What tells one CIFAR archive from the other: its file, checksum, members and labels."""

    key: str
    archive: str
    md5: str
    folder: str
    members: dict[str, tuple[str, ...]]
    label_files: dict[str, str]
    """Label kind -> the member that names its classes, one per line."""
    label_bytes: int
    pickled_archive: str
    pickled_folder: str


CIFAR10 = _Family(
    key="cifar10",
    archive="cifar-10-binary.tar.gz",
    md5="c32a1d4ab5d03f1284b67883e8d87530",
    folder="cifar-10-batches-bin",
    members={"train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)), "test": ("test_batch.bin",)},
    label_files={"fine": "batches.meta.txt"},
    label_bytes=1,
    pickled_archive="cifar-10-python.tar.gz",
    pickled_folder="cifar-10-batches-py",
)
CIFAR100 = _Family(
    key="cifar100",
    archive="cifar-100-binary.tar.gz",
    md5="03b5dce01913d631647c71ecec9e9cb8",
    folder="cifar-100-binary",
    members={"train": ("train.bin",), "test": ("test.bin",)},
    label_files={"coarse": "coarse_label_names.txt", "fine": "fine_label_names.txt"},
    label_bytes=2,  # coarse label, then fine label
    pickled_archive="cifar-100-python.tar.gz",
    pickled_folder="cifar-100-python",
)
FAMILIES = {f.key: f for f in (CIFAR10, CIFAR100)}


@dataclass(frozen=True)
class CifarConfig:
    """One split of CIFAR-10 or CIFAR-100 at 32×32. `labels`: CIFAR-100's `fine` (100
    classes) or `coarse` (20 superclasses); CIFAR-10 has only `fine`. `limit` keeps the first
    N images. `archive` names the file if yours is called otherwise (it must be the binary
    version)."""

    split: Literal["train", "test"] = "train"
    labels: Literal["fine", "coarse"] = "fine"
    limit: int | None = None
    archive: str | None = None

    def __post_init__(self) -> None:
        check_limit(self.limit)
        if self.split not in ("train", "test"):
            raise ValueError(f"split must be train or test, got {self.split!r}")
        if self.labels not in ("fine", "coarse"):
            raise ValueError(f"labels must be fine or coarse, got {self.labels!r}")
        if self.archive is not None and (
            "python" in self.archive or self.archive.endswith((".pkl", ".pickle"))
        ):
            raise ValueError(
                f"archive {self.archive!r} looks like the pickled Python version, which ganforge "
                f"never opens: use the binary version (e.g. cifar-10-binary.tar.gz)"
            )


def _refuse_pickles(family: _Family, files: RawFiles) -> None:
    """A clear reason when only the pickled Python archive is at hand."""
    found = files.find_local(family.pickled_archive)
    if found is not None:
        raise MissingDataError(
            f"{files.ctx.name}: found {found.path}, the pickled Python version of {family.key}, which "
            f"ganforge never opens (unpickling can run code); put {family.archive} (the binary version) "
            f"beside it"
        )


def _verify(family: _Family, raw: RawFile, enabled: bool) -> dict[str, Any]:
    record: dict[str, Any] = {
        "file": family.archive,
        "origin": raw.origin,
        "md5": md5_file(raw.path),
        "sha256": sha256_file(raw.path),
    }
    if not enabled:
        record["verified_by"] = "not verified (data.verify_checksums is off)"
    elif record["md5"] == family.md5:
        record["verified_by"] = "MD5 (the dataset authors' page)"
    else:
        raise DataError(
            f"{raw.path}: checksum mismatch (MD5 {record['md5']}, expected {family.md5}): it is corrupt, "
            f"truncated or not the real archive; delete it and fetch it again (or set "
            f"data.verify_checksums: false for your own files)"
        )
    return record


def _read_members(family: _Family, raw: RawFile, wanted: set[str]) -> dict[str, bytes]:
    """The wanted members' bytes, read from the archive without extracting anything."""
    out: dict[str, bytes] = {}
    try:
        with tarfile.open(raw.path, "r:gz") as archive:
            for member in archive:
                name = member.name.removeprefix("./")
                if name.startswith(family.pickled_folder + "/"):
                    raise DataError(
                        f"{raw.path} holds the pickled Python version ({family.pickled_folder}/), "
                        f"which ganforge never opens: use {family.archive}"
                    )
                if member.isfile() and name in wanted:
                    handle = archive.extractfile(member)
                    if handle is not None:
                        out[name] = handle.read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DataError(
            f"{raw.path} is not a readable tar.gz archive ({type(exc).__name__}: {exc}); "
            f"delete it and fetch it again"
        ) from exc
    missing = sorted(wanted - set(out))
    if missing:
        raise DataError(f"{raw.path} lacks {', '.join(missing)}: not a {family.archive} layout")
    return out


def parse_records(
    data: bytes, label_bytes: int, label_index: int, where: str
) -> tuple[np.ndarray, np.ndarray]:
    """Fixed-length CIFAR records -> uint8 N×3×32×32 images and the chosen label byte."""
    size = label_bytes + _PIXELS
    if not data or len(data) % size:
        raise DataError(
            f"{where}: {len(data)} bytes is not a whole number of {size}-byte CIFAR records; "
            f"the file is truncated or not CIFAR binary data"
        )
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, size)
    labels = records[:, label_index].astype(np.int64)
    return records[:, label_bytes:].reshape(-1, 3, 32, 32), labels


def _class_names(text: bytes, where: str) -> list[str]:
    names = [line.strip() for line in text.decode("utf-8", errors="replace").splitlines() if line.strip()]
    if not names:
        raise DataError(f"{where}: lists no class names")
    return names


def cifar_needs(which: str, cfg: CifarConfig) -> list[RawNeed]:
    return [RawNeed(which, cfg.archive or FAMILIES[which].archive)]


def load_cifar(which: str, cfg: CifarConfig, ctx: SourceContext) -> PreparedDataset:
    """Read one split of CIFAR-10 or CIFAR-100 (mirror, download cache or the authors' page)."""
    family = FAMILIES[which]
    if cfg.labels not in family.label_files:
        raise DataError(
            f"{ctx.name}: {which} has no {cfg.labels} labels (it has: {', '.join(family.label_files)})"
        )
    archive = cfg.archive or family.archive
    files = RawFiles(ctx, which)
    if files.find_local(archive) is None:
        _refuse_pickles(family, files)
    raw = files.get(archive, [_BASE_URL + family.archive])
    record = _verify(family, raw, ctx.verify_checksums)
    batches = [f"{family.folder}/{m}" for m in family.members[cfg.split]]
    names_member = f"{family.folder}/{family.label_files[cfg.labels]}"
    content = _read_members(family, raw, {*batches, names_member})
    label_index = 0 if cfg.labels == "coarse" or family.label_bytes == 1 else 1
    parts = [
        parse_records(content[b], family.label_bytes, label_index, f"{raw.path.name}:{b}") for b in batches
    ]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    class_names = _class_names(content[names_member], f"{raw.path.name}:{names_member}")
    if int(labels.max()) >= len(class_names):
        raise DataError(
            f"{raw.path.name}: a label {int(labels.max())} is beyond the {len(class_names)} "
            f"classes {names_member} names"
        )
    available = images.shape[0]
    keep = available if cfg.limit is None else min(cfg.limit, available)
    tensors = {
        "images": torch.from_numpy(images[:keep].copy()),
        "labels": torch.from_numpy(labels[:keep].copy()),
    }
    meta = {
        "source": f"{which} binary archive ({which}/ in the mirror, or the dataset authors' page)",
        "split": cfg.split,
        "label_set": cfg.labels,
        "benchmark": which,  # the published tables it is put beside (ganforge.published)
        "stand_in": False,
        "inputs": [record],
        "counts": {"available": available, "kept": keep, "skipped": 0},
        "image_size": 32,
        "limit": cfg.limit,
    }
    return PreparedDataset(ctx.name, "images", tensors, class_names, meta)
