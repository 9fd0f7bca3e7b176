import gzip

import numpy as np
import pytest

from ganforge.core.errors import DataError
from ganforge.data.idx import check_images, check_labels, parse_idx, read_gzip
from tests.builders import idx_bytes, write_idx_gz


def test_parse_round_trip():
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    out = parse_idx(idx_bytes(arr), "x")
    assert out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out, arr)


def test_wrong_magic_number():
    data = bytearray(idx_bytes(np.zeros((2, 2), dtype=np.uint8)))
    data[0] = 0x1F
    with pytest.raises(DataError, match="not an IDX file"):
        parse_idx(bytes(data), "x.idx")


def test_header_shape_disagrees_with_payload():
    data = idx_bytes(np.zeros((3, 4, 4), dtype=np.uint8))
    with pytest.raises(DataError, match=r"3×4×4 but the file holds 47"):
        parse_idx(data[:-1], "x.idx")


def test_empty_file():
    with pytest.raises(DataError, match="magic number 0xempty"):
        parse_idx(b"", "x.idx")


def test_truncated_gzip(tmp_path):
    path = write_idx_gz(tmp_path / "a.gz", np.zeros((50, 28, 28), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DataError, match="truncated or corrupt gzip"):
        read_gzip(path)


def test_not_gzip(tmp_path):
    path = tmp_path / "a.gz"
    path.write_bytes(b"plain text, not gzip")
    with pytest.raises(DataError, match="truncated or corrupt gzip"):
        read_gzip(path)


def test_gzip_round_trip(tmp_path):
    path = tmp_path / "b.gz"
    path.write_bytes(gzip.compress(b"abc"))
    assert read_gzip(path) == b"abc"


def test_image_and_label_checks():
    check_images(np.zeros((2, 28, 28), np.uint8), "x", (28, 28))
    with pytest.raises(DataError, match="expected N×28×28"):
        check_images(np.zeros((2, 27, 28), np.uint8), "x", (28, 28))
    with pytest.raises(DataError, match="expected 3 labels"):
        check_labels(np.zeros(2, np.uint8), "y", 3, 10)
    with pytest.raises(DataError, match="out of range"):
        check_labels(np.array([1, 12], np.uint8), "y", 2, 10)
