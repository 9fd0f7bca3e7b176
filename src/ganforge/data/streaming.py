"""The streaming prepared format, for image sets too large to hold in one tensor (LSUN, FFHQ,
any big folder): images are appended to the file a chunk at a time while they are decoded,
and read back memory-mapped, so neither the prepare stage nor training ever holds the whole
set in private memory (the pages of the file are the kernel's page cache, shared and
reclaimable).

Layout: a 16-byte magic, a little-endian uint64 header length, a JSON header (name, kind,
count, image shape, offsets, class names) padded to `HEADER_BYTES`, then the uint8
N×C×H×W images, then the int64 labels if any. Plain bytes only: nothing in it can run code.
"""

from __future__ import annotations

import json
import os
import struct
import warnings
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import torch

from ganforge.core.errors import DataError

MAGIC = b"GANFORGE-STREAM1"
HEADER_BYTES = 1 << 16
"""Room reserved for the header (the images start here, page-aligned for mmap)."""
_LENGTH = struct.Struct("<Q")


def is_stream(path: Path) -> bool:
    """Whether the file is in the streaming format (by its magic)."""
    with path.open("rb") as fh:
        return fh.read(len(MAGIC)) == MAGIC


class StreamWriter:
    """Append uint8 C×H×W images chunk by chunk to `path` (a temporary file the caller renames
    into place); `finish` writes the labels and the header. The file is removed if the writer
    is left by an exception."""

    def __init__(self, path: Path, shape: tuple[int, int, int]) -> None:
        self.path = path
        self.shape = shape
        self.count = 0
        self.labels: list[np.ndarray] = []
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = path.open("wb")
        self._fh.write(b"\0" * HEADER_BYTES)

    def __enter__(self) -> StreamWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self._fh.closed:
            self._fh.close()
        if kind is not None:
            self.path.unlink(missing_ok=True)

    def append(self, images: np.ndarray, labels: np.ndarray | None = None) -> None:
        """Write one chunk of images (N×C×H×W uint8) and, for a labelled set, their labels."""
        if images.dtype != np.uint8 or images.shape[1:] != self.shape:
            raise DataError(
                f"{self.path.name}: a chunk of {images.dtype} {images.shape[1:]} images "
                f"does not match the stream's uint8 {self.shape}"
            )
        self._fh.write(np.ascontiguousarray(images).tobytes())
        self.count += images.shape[0]
        if labels is not None:
            self.labels.append(labels.astype("<i8"))

    def finish(self, name: str, class_names: list[str]) -> None:
        """Write the labels and the header; the file is complete after this."""
        labelled = bool(self.labels)
        if labelled and sum(len(lab) for lab in self.labels) != self.count:
            raise DataError(f"{name}: {self.count} images but a different number of labels")
        images_bytes = self.count * int(np.prod(self.shape))
        header = {
            "format": MAGIC.decode(),
            "name": name,
            "kind": "images",
            "count": self.count,
            "shape": list(self.shape),
            "images_offset": HEADER_BYTES,
            "labels_offset": HEADER_BYTES + images_bytes if labelled else None,
            "class_names": class_names,
        }
        if labelled:
            self._fh.write(np.concatenate(self.labels).tobytes())
        encoded = json.dumps(header).encode()
        if len(MAGIC) + _LENGTH.size + len(encoded) > HEADER_BYTES:
            raise DataError(
                f"{name}: the header ({len(encoded)} bytes, mostly class names) exceeds "
                f"the streaming format's {HEADER_BYTES} bytes"
            )
        self._fh.seek(0)
        self._fh.write(MAGIC + _LENGTH.pack(len(encoded)) + encoded)
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()


def read_header(path: Path) -> dict[str, Any]:
    """The header of a streaming file; DataError if it is damaged."""
    with path.open("rb") as fh:
        head = fh.read(HEADER_BYTES)
    try:
        if head[: len(MAGIC)] != MAGIC:
            raise ValueError("no streaming-format magic")
        (length,) = _LENGTH.unpack_from(head, len(MAGIC))
        start = len(MAGIC) + _LENGTH.size
        header = json.loads(head[start : start + length])
        count, shape = int(header["count"]), tuple(int(s) for s in header["shape"])
        expected = (
            header["images_offset"]
            + count * int(np.prod(shape))
            + (8 * count if header["labels_offset"] else 0)
        )
    except (ValueError, KeyError, TypeError, struct.error) as exc:
        raise DataError(f"{path} has a damaged streaming header ({exc}); re-run its prepare stage") from exc
    if path.stat().st_size != expected:
        raise DataError(
            f"{path} is {path.stat().st_size} bytes, its header says {expected}: truncated or "
            f"damaged; re-run its prepare stage"
        )
    return header


def _mapped(path: Path, dtype: str, offset: int, shape: tuple[int, ...]) -> torch.Tensor:
    if not shape[0]:
        return torch.from_numpy(np.zeros(shape, dtype=dtype))
    # copy-on-write: the data can be read as a normal tensor, and a stray in-place write
    # copies a page instead of touching the file.
    array = np.memmap(path, dtype=dtype, mode="c", offset=offset, shape=shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(array)


def open_stream(path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The header and the tensors of a streaming file, memory-mapped (nothing is read yet)."""
    header = read_header(path)
    count, shape = int(header["count"]), tuple(int(s) for s in header["shape"])
    tensors = {"images": _mapped(path, "u1", header["images_offset"], (count, *shape))}
    if header["labels_offset"] is not None:
        tensors["labels"] = _mapped(path, "<i8", header["labels_offset"], (count,))
    return header, tensors
