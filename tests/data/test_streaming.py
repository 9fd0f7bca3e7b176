from pathlib import Path

import numpy as np
import pytest
import torch

from ganforge.core.errors import DataError
from ganforge.data.prepared import PreparedDataset, load_prepared, save_prepared
from ganforge.data.streaming import HEADER_BYTES, StreamWriter, is_stream, open_stream
from tests.builders import write_image_folder


def chunks(n_chunks: int, per: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (per, 3, 8, 8), dtype=np.uint8) for _ in range(n_chunks)]


def written(path, parts, labelled=True, classes=("a", "b", "c")):
    with StreamWriter(path, (3, 8, 8)) as writer:
        for i, part in enumerate(parts):
            writer.append(part, np.full(len(part), i % len(classes)) if labelled else None)
        writer.finish("big", list(classes))
    return path


def test_chunks_read_back_memory_mapped_and_equal(tmp_path):
    parts = chunks(3, 5)
    path = written(tmp_path / "s.bin", parts)
    assert is_stream(path) and path.stat().st_size == HEADER_BYTES + 15 * 192 + 15 * 8
    header, tensors = open_stream(path)
    assert header["count"] == 15 and header["class_names"] == ["a", "b", "c"]
    np.testing.assert_array_equal(tensors["images"].numpy(), np.concatenate(parts))
    assert tensors["labels"].tolist() == [0] * 5 + [1] * 5 + [2] * 5
    assert mapped_from(tensors["images"], path)  # the file's pages, not a copy in private memory


def mapped_from(tensor: torch.Tensor, path) -> bool:
    """Whether the tensor's memory lies in a mapping of `path` (Linux: /proc/self/maps)."""
    address = tensor.data_ptr()
    for line in Path("/proc/self/maps").read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if len(fields) >= 6 and fields[5] == str(path):
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if start <= address < end:
                return True
    return False


def test_a_streamed_dataset_saves_by_rename_and_loads_like_any_other(tmp_path):
    parts = chunks(2, 4)
    tmp = written(tmp_path / "prepared" / ".big.stream.tmp", parts)
    _, tensors = open_stream(tmp)
    ds = PreparedDataset("big", "images", tensors, ["a", "b", "c"], {"source": "test"}, backing=tmp)
    data_path, _ = save_prepared(ds, tmp_path / "prepared")
    assert not tmp.exists() and is_stream(data_path)
    loaded = load_prepared(tmp_path / "prepared", "big")
    assert torch.equal(loaded.images, torch.from_numpy(np.concatenate(parts)))
    assert mapped_from(loaded.images, data_path)
    assert loaded.class_names == ["a", "b", "c"] and loaded.meta["storage"] == "streaming"
    assert loaded.meta["tensors"]["images"]["shape"] == [8, 3, 8, 8]


def test_an_unlabelled_stream_has_no_labels(tmp_path):
    _, tensors = open_stream(written(tmp_path / "s.bin", chunks(1, 3), labelled=False, classes=()))
    assert set(tensors) == {"images"}


@pytest.mark.parametrize("damage", ["truncate", "header"])
def test_damaged_streams_are_one_line(tmp_path, damage):
    path = written(tmp_path / "prepared" / "big.pt", chunks(2, 4))
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        del data[-100:]
    else:
        data[30:40] = b"\xff" * 10
    path.write_bytes(bytes(data))
    with pytest.raises(DataError) as err:
        load_prepared(tmp_path / "prepared", "big")
    assert "re-run its prepare stage" in str(err.value) and "\n" not in str(err.value)


def test_a_failed_writer_leaves_no_file(tmp_path):
    path = tmp_path / "s.bin"
    with pytest.raises(DataError, match="does not match"), StreamWriter(path, (3, 8, 8)) as writer:
        writer.append(np.zeros((2, 1, 8, 8), dtype=np.uint8))
    assert not path.exists()


def folder_config(root, **kw):
    from ganforge.data.folder import FolderConfig

    return FolderConfig(
        path=str(root),
        images_dir="images",
        labels_csv="labels.csv",
        label_column="group",
        image_size=16,
        **kw,
    )


def test_a_streamed_folder_holds_the_same_images_and_labels_as_a_compact_one(tmp_path, ctx_factory):
    from ganforge.data.folder import load_folder

    write_image_folder(tmp_path / "src", 23, bad=1)
    compact = load_folder(folder_config(tmp_path / "src", max_bad_fraction=0.1), ctx_factory("big"))
    ctx = ctx_factory("big")
    streamed = load_folder(
        folder_config(tmp_path / "src", max_bad_fraction=0.1, storage="streaming", chunk=5), ctx
    )
    assert streamed.backing is not None and mapped_from(streamed.images, streamed.backing)
    assert torch.equal(streamed.images, compact.images) and torch.equal(streamed.labels, compact.labels)
    assert streamed.class_names == compact.class_names and streamed.meta["counts"] == compact.meta["counts"]
    save_prepared(streamed, ctx.prepared_dir)
    loaded = load_prepared(ctx.prepared_dir, "big")
    assert torch.equal(loaded.images, compact.images) and loaded.meta["chunk"] == 5
    assert sorted(p.name for p in ctx.prepared_dir.iterdir()) == ["big.json", "big.pt"]


def test_too_many_bad_files_leave_no_stream_behind(tmp_path, ctx_factory):
    from ganforge.data.folder import load_folder

    write_image_folder(tmp_path / "src", 10, bad=5)
    ctx = ctx_factory("big")
    with pytest.raises(DataError, match="unreadable or truncated"):
        load_folder(folder_config(tmp_path / "src", storage="streaming", chunk=3), ctx)
    assert not ctx.prepared_dir.exists() or not list(ctx.prepared_dir.iterdir())


def test_unknown_storage_is_a_config_error():
    from ganforge.core.config import from_dict
    from ganforge.core.errors import ConfigError
    from ganforge.data.folder import FolderConfig

    with pytest.raises(ConfigError, match="storage must be one of compact, streaming"):
        from_dict(FolderConfig, {"path": "x", "storage": "sharded"}, "datasets.big")
