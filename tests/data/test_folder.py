import pytest
import torch

from ganforge.core.errors import DataError, MissingDataError
from ganforge.data.folder import FolderConfig, load_folder
from ganforge.data.images import decode_image
from tests.builders import jpeg_bytes, write_image_folder


def config(**kw):
    base = {
        "path": None,
        "mirror_path": "emoji64",
        "images_dir": "images",
        "labels_csv": "labels.csv",
        "label_column": "group",
        "image_size": 16,
        "stand_in_for": "anime",
    }
    return FolderConfig(**{**base, **kw})


def test_reads_images_and_labels_from_the_mirror(tmp_path, ctx_factory):
    write_image_folder(tmp_path / "m" / "emoji64", 12)
    ds = load_folder(config(), ctx_factory("emoji64", tmp_path / "m"))
    assert ds.images.shape == (12, 3, 16, 16) and ds.images.dtype == torch.uint8
    assert ds.class_names == ["Animals", "Flags", "Food"]
    assert ds.labels.tolist() == [0, 1, 2] * 4
    assert ds.meta["stand_in"] is True and ds.meta["stand_in_for"] == "anime"
    assert len(ds.meta["inputs"]) == 2 and ds.meta["inputs"][1]["manifest_sha256"]


def test_plain_folder_without_labels(tmp_path, ctx_factory):
    write_image_folder(tmp_path / "mine", 5)
    cfg = FolderConfig(path=str(tmp_path / "mine"), image_size=8, channels=1)
    ds = load_folder(cfg, ctx_factory("mine"))
    assert ds.images.shape == (5, 1, 8, 8) and ds.labels is None and ds.class_names == []
    assert ds.meta["stand_in"] is False


def test_limit_draws_a_seeded_subset(tmp_path, ctx_factory):
    write_image_folder(tmp_path / "m" / "emoji64", 20)
    ctx = ctx_factory("emoji64", tmp_path / "m")
    a = load_folder(config(limit=7), ctx)
    b = load_folder(config(limit=7), ctx)
    c = load_folder(config(limit=7, subset_seed=3), ctx)
    assert len(a) == 7 and torch.equal(a.images, b.images)
    assert not torch.equal(a.images, c.images)


def test_truncated_images_are_skipped_and_counted(tmp_path, ctx_factory):
    write_image_folder(tmp_path / "m" / "emoji64", 20, bad=1)
    ds = load_folder(config(max_bad_fraction=0.1), ctx_factory("emoji64", tmp_path / "m"))
    assert len(ds) == 19 and ds.labels.shape == (19,)
    assert ds.meta["counts"]["skipped"] == 1
    assert ds.meta["skipped_files"][0]["file"] == "00019.jpg"


def test_too_many_bad_images_fail(tmp_path, ctx_factory):
    write_image_folder(tmp_path / "m" / "emoji64", 10, bad=3)
    with pytest.raises(DataError, match=r"3 of 10 image files are unreadable.*max_bad_fraction"):
        load_folder(config(max_bad_fraction=0.1), ctx_factory("emoji64", tmp_path / "m"))


def test_labels_csv_naming_missing_files(tmp_path, ctx_factory):
    folder = tmp_path / "m" / "emoji64"
    write_image_folder(folder, 4)
    (folder / "images" / "00002.jpg").unlink()
    with pytest.raises(DataError, match=r"names 1 files that are not in .*: 00002.jpg"):
        load_folder(config(), ctx_factory("emoji64", tmp_path / "m"))


def test_labels_csv_without_the_label_column(tmp_path, ctx_factory):
    write_image_folder(tmp_path / "m" / "emoji64", 4)
    with pytest.raises(DataError, match=r"no column 'category' \(columns: file, group, name\)"):
        load_folder(config(label_column="category"), ctx_factory("emoji64", tmp_path / "m"))


def test_empty_folder(tmp_path, ctx_factory):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no image files"):
        load_folder(FolderConfig(path=str(tmp_path / "empty")), ctx_factory("mine"))


def test_folder_of_unreadable_files(tmp_path, ctx_factory):
    folder = tmp_path / "junk"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match="none of the 3 image files could be read"):
        load_folder(FolderConfig(path=str(folder)), ctx_factory("junk"))


def test_missing_folder(tmp_path, ctx_factory):
    with pytest.raises(MissingDataError, match="does not exist"):
        load_folder(FolderConfig(path=str(tmp_path / "nope")), ctx_factory("mine"))


def test_mirror_folder_without_a_mirror(ctx_factory):
    with pytest.raises(MissingDataError, match="no mirror is set: set GANFORGE_DATA_MIRROR"):
        load_folder(config(), ctx_factory("emoji64"))


def test_config_needs_exactly_one_location():
    with pytest.raises(ValueError, match="exactly one of path and mirror_path"):
        FolderConfig()


def test_decode_crops_the_centre_square_and_resizes():
    arr = decode_image(jpeg_bytes((200, 10, 10), size=(60, 30)), 10, 3)
    assert arr.shape == (3, 10, 10)
    gray = decode_image(jpeg_bytes((200, 10, 10), size=(60, 30)), 12, 1)
    assert gray.shape == (1, 12, 12)
