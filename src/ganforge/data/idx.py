"""Reading IDX files (the MNIST format), gzip-compressed, with every malformation reported
as a DataError naming the file."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from ganforge.core.errors import DataError

# IDX type codes (third magic byte) to numpy dtypes; IDX data is big-endian.
_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_gzip(path: Path) -> bytes:
    """Decompress a whole gzip file; DataError if it is truncated or not gzip."""
    try:
        with gzip.open(path, "rb") as fh:
            return fh.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(
            f"{path} is a truncated or corrupt gzip file ({exc}); delete it and fetch it again"
        ) from exc


def parse_idx(data: bytes, where: str) -> np.ndarray:
    """Parse the bytes of an IDX file into an array of the shape its header gives."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        magic = data[:4].hex() or "empty"
        raise DataError(f"{where} is not an IDX file (magic number 0x{magic})")
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise DataError(f"{where}: IDX header is truncated or declares {ndim} dimensions")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_DTYPES[data[2]])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        dims = "×".join(map(str, shape))
        raise DataError(
            f"{where}: IDX header says {dims} but the file holds {len(data) - header} "
            f"data bytes instead of {expected}"
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)


def check_images(arr: np.ndarray, where: str, size: tuple[int, int] | None = None) -> None:
    """An IDX image file is N×H×W uint8 (of the given H×W when known)."""
    if arr.ndim != 3 or arr.dtype != np.uint8 or (size is not None and arr.shape[1:] != size):
        want = f"N×{size[0]}×{size[1]}" if size else "N×H×W"
        raise DataError(f"{where}: expected {want} uint8 images, found shape {arr.shape} {arr.dtype}")


def check_labels(arr: np.ndarray, where: str, n: int, classes: int) -> None:
    """An IDX label file is a vector of n uint8 class indices below `classes`."""
    if arr.ndim != 1 or arr.shape[0] != n:
        raise DataError(f"{where}: expected {n} labels (one per image), found shape {arr.shape}")
    if n and int(arr.max()) >= classes:
        raise DataError(f"{where}: label {int(arr.max())} is out of range for {classes} classes")
