import json

import pytest
import torch

from ganforge.core.errors import DataError, MissingDataError
from ganforge.data.prepared import PreparedDataset, dataset_paths, load_prepared, save_prepared


def small():
    return PreparedDataset(
        "tiny",
        "images",
        {"images": torch.zeros(4, 1, 8, 8, dtype=torch.uint8), "labels": torch.tensor([0, 1, 0, 1])},
        ["a", "b"],
        {"source": "test", "stand_in": False},
    )


def test_round_trip(tmp_path):
    _, meta_path = save_prepared(small(), tmp_path)
    back = load_prepared(tmp_path, "tiny")
    assert torch.equal(back.images, small().images) and back.class_names == ["a", "b"]
    meta = json.loads(meta_path.read_text())
    assert meta["examples"] == 4 and meta["tensors"]["images"]["shape"] == [4, 1, 8, 8]
    assert meta["source"] == "test" and len(meta["data_sha256"]) == 64
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.json", "tiny.pt"]


def test_validation_catches_wrong_dtypes_and_lengths():
    with pytest.raises(DataError, match="uint8"):
        PreparedDataset("x", "images", {"images": torch.zeros(2, 1, 4, 4)})
    with pytest.raises(DataError, match="disagree"):
        PreparedDataset(
            "x",
            "images",
            {
                "images": torch.zeros(2, 1, 4, 4, dtype=torch.uint8),
                "labels": torch.zeros(3, dtype=torch.int64),
            },
        )
    with pytest.raises(DataError, match="out of range"):
        PreparedDataset(
            "x",
            "images",
            {"images": torch.zeros(2, 1, 4, 4, dtype=torch.uint8), "labels": torch.tensor([0, 5])},
            ["a", "b"],
        )
    with pytest.raises(DataError, match="extra"):
        PreparedDataset("x", "points", {"points": torch.zeros(2, 2), "colour": torch.zeros(2)})


def test_failed_save_leaves_nothing(tmp_path, monkeypatch):
    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", explode)
    with pytest.raises(OSError, match="disk full"):
        save_prepared(small(), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(MissingDataError, match=r"dvc repro prepare@tiny"):
        load_prepared(tmp_path, "tiny")
    data_path, _ = dataset_paths(tmp_path, "tiny")
    data_path.write_bytes(b"garbage")
    with pytest.raises(DataError, match="not a readable prepared dataset"):
        load_prepared(tmp_path, "tiny")
