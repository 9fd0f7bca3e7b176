"""The prepared-dataset contract: one `.pt` file of tensors per dataset and a metadata JSON
beside it. Every later stage reads datasets through `load_prepared`; nothing decodes an
image after the prepare stage."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from ganforge.core.errors import DataError, MissingDataError
from ganforge.core.io import save_torch, sha256_file, write_json
from ganforge.data.streaming import is_stream, open_stream

FORMAT_VERSION = 1

Kind = Literal["images", "points", "paired", "unpaired"]

# Which tensors each kind of dataset holds; optional ones may be absent.
_REQUIRED: dict[str, tuple[str, ...]] = {
    "images": ("images",),
    "points": ("points",),
    "paired": ("a", "b", "heldout"),
    "unpaired": ("a", "b", "heldout_a", "heldout_b"),
}
_OPTIONAL: dict[str, tuple[str, ...]] = {
    "images": ("labels",),
    "points": ("labels",),
    "paired": ("labels",),
    "unpaired": ("labels_a", "labels_b", "a_to_b", "b_to_a"),
}


@dataclass
class PreparedDataset:
    """A decoded dataset held in memory.

    `images`: uint8 N×C×H×W; `points`: float32 N×2; `paired`: aligned uint8 `a` and `b`;
    `unpaired`: uint8 `a` and `b` with no pairing, plus the true translations `a_to_b` and
    `b_to_a` where the mapping is known. Labels are int64 class indices into `class_names`.
    Translation sets mark a held-out part that is never trained on (bool `heldout`, or
    `heldout_a` and `heldout_b`).
    """

    name: str
    kind: Kind
    tensors: dict[str, torch.Tensor]
    class_names: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    backing: Path | None = None
    """A streaming-format file that already holds the tensors (memory-mapped from it):
    saving renames it into place instead of writing the tensors again."""

    def __post_init__(self) -> None:
        validate(self)

    @property
    def streamed(self) -> bool:
        """Whether the tensors are memory-mapped from a streaming-format file (not in memory)."""
        return self.backing is not None or self.meta.get("storage") == "streaming"

    @property
    def images(self) -> torch.Tensor:
        return self.tensors["images"]

    @property
    def labels(self) -> torch.Tensor | None:
        return self.tensors.get("labels")

    @property
    def points(self) -> torch.Tensor:
        return self.tensors["points"]

    def __len__(self) -> int:
        return int(self.tensors[_REQUIRED[self.kind][0]].shape[0])


def validate(ds: PreparedDataset) -> None:
    """Check that the tensors match the dataset kind; raise DataError if not."""
    where = f"dataset {ds.name!r}"
    if ds.kind not in _REQUIRED:
        raise DataError(f"{where}: unknown kind {ds.kind!r}; known kinds: {sorted(_REQUIRED)}")
    allowed = set(_REQUIRED[ds.kind]) | set(_OPTIONAL[ds.kind])
    missing = [k for k in _REQUIRED[ds.kind] if k not in ds.tensors]
    extra = sorted(set(ds.tensors) - allowed)
    if missing or extra:
        raise DataError(f"{where}: {ds.kind} data needs {missing or 'nothing more'}, has extra {extra}")
    for key, tensor in ds.tensors.items():
        if not isinstance(tensor, torch.Tensor):
            raise DataError(f"{where}: {key} is a {type(tensor).__name__}, not a tensor")
        _check_tensor(where, ds.kind, key, tensor)
    _check_lengths(where, ds)
    for key in ("labels", "labels_a", "labels_b"):
        labels = ds.tensors.get(key)
        if labels is not None and labels.numel() and ds.class_names:
            hi = int(labels.max())
            if int(labels.min()) < 0 or hi >= len(ds.class_names):
                raise DataError(f"{where}: {key} out of range for {len(ds.class_names)} classes")


def _check_tensor(where: str, kind: str, key: str, tensor: torch.Tensor) -> None:
    if key.startswith("heldout"):
        if tensor.dtype != torch.bool or tensor.dim() != 1:
            raise DataError(f"{where}: {key} must be a 1-d bool tensor")
    elif key.startswith("labels"):
        if tensor.dtype != torch.int64 or tensor.dim() != 1:
            raise DataError(f"{where}: {key} must be a 1-d int64 tensor")
    elif kind == "points":
        if tensor.dtype != torch.float32 or tensor.dim() != 2:
            raise DataError(f"{where}: {key} must be a float32 N×D tensor")
    elif tensor.dtype != torch.uint8 or tensor.dim() != 4:
        raise DataError(f"{where}: {key} must be a uint8 N×C×H×W tensor")


def _check_lengths(where: str, ds: PreparedDataset) -> None:
    t = ds.tensors
    groups: list[tuple[str, ...]] = {
        "images": [("images", "labels")],
        "points": [("points", "labels")],
        "paired": [("a", "b", "labels", "heldout")],
        "unpaired": [("a", "labels_a", "a_to_b", "heldout_a"), ("b", "labels_b", "b_to_a", "heldout_b")],
    }[ds.kind]
    for group in groups:
        sizes = {k: int(t[k].shape[0]) for k in group if k in t}
        if len(set(sizes.values())) > 1:
            raise DataError(f"{where}: tensors disagree on the number of examples: {sizes}")


def dataset_paths(prepared_dir: str | os.PathLike[str], name: str) -> tuple[Path, Path]:
    """The `.pt` data file and the `.json` metadata file of a prepared dataset."""
    root = Path(prepared_dir)
    return root / f"{name}.pt", root / f"{name}.json"


def summarize(ds: PreparedDataset) -> dict[str, Any]:
    """Counts, shapes and classes of a dataset, for its metadata file."""
    return {
        "kind": ds.kind,
        "examples": len(ds),
        "tensors": {
            k: {"shape": list(v.shape), "dtype": str(v.dtype).removeprefix("torch.")}
            for k, v in sorted(ds.tensors.items())
        },
        "class_names": list(ds.class_names),
    }


def save_prepared(ds: PreparedDataset, prepared_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write the data file and its metadata atomically; return both paths."""
    data_path, meta_path = dataset_paths(prepared_dir, ds.name)
    storage: dict[str, str] = {}
    if ds.backing is not None:  # streamed: the file is written already, under a temporary name
        data_path.parent.mkdir(parents=True, exist_ok=True)
        ds.backing.replace(data_path)
        ds.backing = None
        storage = {"storage": "streaming"}
    else:
        payload = {
            "format": FORMAT_VERSION,
            "name": ds.name,
            "kind": ds.kind,
            "tensors": {k: v.contiguous() for k, v in ds.tensors.items()},
            "class_names": list(ds.class_names),
        }
        save_torch(payload, data_path)
    meta = {"dataset": ds.name, **ds.meta, **summarize(ds), **storage, "data_sha256": sha256_file(data_path)}
    write_json(meta_path, meta)
    return data_path, meta_path


def load_prepared(prepared_dir: str | os.PathLike[str], name: str) -> PreparedDataset:
    """Load a prepared dataset (tensors only, never code: `weights_only=True`)."""
    data_path, meta_path = dataset_paths(prepared_dir, name)
    if not data_path.is_file():
        raise MissingDataError(
            f"prepared dataset {name!r} not found at {data_path}: run `dvc repro prepare@{name}`"
        )
    meta: dict[str, Any] = {}
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if is_stream(data_path):
        header, tensors = open_stream(data_path)
        return PreparedDataset(header["name"], header["kind"], tensors, list(header["class_names"]), meta)
    try:
        payload = torch.load(data_path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged file
        raise DataError(
            f"{data_path} is not a readable prepared dataset ({exc}); re-run its prepare stage"
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION:
        raise DataError(f"{data_path} has an unknown format; re-run its prepare stage")
    return PreparedDataset(
        name=payload["name"],
        kind=payload["kind"],
        tensors=dict(payload["tensors"]),
        class_names=list(payload["class_names"]),
        meta=meta,
    )


def heldout_mask(n: int, fraction: float, seed: int) -> torch.Tensor:
    """A seeded choice of round(n·fraction) of n examples (at least one when n > 1 and the
    fraction is positive) as a bool mask: the held-out part of a translation set."""
    count = min(n - 1, max(1 if fraction > 0 else 0, round(n * fraction))) if n > 1 else 0
    mask = torch.zeros(n, dtype=torch.bool)
    mask[torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:count]] = True
    return mask


def check_holdout(fraction: float) -> None:
    """A translation set's `holdout`: the fraction of examples never trained on."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"holdout must be in [0, 1), got {fraction}")


def heldout_masks(ds: PreparedDataset) -> dict[str, torch.Tensor]:
    """The held-out mask of each domain of a translation set (a paired set's two are one)."""
    t = ds.tensors
    if ds.kind == "paired":
        return {"a": t["heldout"], "b": t["heldout"]}
    return {"a": t["heldout_a"], "b": t["heldout_b"]}


def domain_labels(ds: PreparedDataset) -> dict[str, torch.Tensor | None]:
    """Each domain's labels, where the translation set has them."""
    t = ds.tensors
    if ds.kind == "paired":
        return {"a": t.get("labels"), "b": t.get("labels")}
    return {"a": t.get("labels_a"), "b": t.get("labels_b")}


def true_translation(ds: PreparedDataset, source: str, idx: torch.Tensor) -> torch.Tensor | None:
    """The true translations of the `source` domain's images `idx`, where the set knows them
    (a paired set's partners; an unpaired set's kept `a_to_b` / `b_to_a`)."""
    t = ds.tensors
    if ds.kind == "paired":
        return t["b" if source == "a" else "a"][idx]
    key = "a_to_b" if source == "a" else "b_to_a"
    return t[key][idx] if key in t else None
