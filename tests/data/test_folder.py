import io
import re

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.core.config import from_dict
from ganforge.core.errors import ConfigError, DataError, MissingDataError
from ganforge.data.folder import FolderConfig, load_folder
from ganforge.data.images import RESIZE_FILTERS, Resize, decode_image
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


def _pil_rgb(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def _chw(img: Image.Image) -> np.ndarray:
    return np.asarray(img).transpose(2, 0, 1)


def _two_tone_png(size=(40, 20), left=(250, 20, 20), right=(20, 20, 250)) -> bytes:
    img = Image.new("RGB", size, left)
    img.paste(Image.new("RGB", (size[0] // 2, size[1]), right), (size[0] // 2, 0))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_default_resize_is_the_original_crop_and_bicubic():
    """The defaults must leave prepared datasets byte-identical: the centred square, then
    PIL bicubic, computed here without ganforge."""
    for size in [(60, 30), (31, 77)]:
        data = jpeg_bytes((200, 90, 10), size=size)
        img = _pil_rgb(data)
        w, h = img.size
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        expected = _chw(
            img.crop((left, top, left + side, top + side)).resize((10, 10), Image.Resampling.BICUBIC)
        )
        assert np.array_equal(decode_image(data, 10, 3), expected)
        assert np.array_equal(decode_image(data, 10, 3, Resize()), expected)
        assert np.array_equal(decode_image(data, 10, 3, Resize("bicubic", "centre_crop")), expected)


@pytest.mark.parametrize("name", ["bicubic", "lanczos", "bilinear", "box", "nearest"])
def test_each_filter_is_pils(name):
    data = jpeg_bytes((200, 90, 10), size=(60, 30))
    expected = _chw(_pil_rgb(data).crop((15, 0, 45, 30)).resize((12, 12), RESIZE_FILTERS[name]))
    assert np.array_equal(decode_image(data, 12, 3, Resize(name)), expected)


def test_filters_give_different_images():
    data = jpeg_bytes((200, 90, 10), size=(61, 47))
    arrays = {name: decode_image(data, 13, 3, Resize(name)) for name in RESIZE_FILTERS}
    assert len({a.tobytes() for a in arrays.values()}) == len(RESIZE_FILTERS)


@pytest.mark.parametrize("pad_value", [0, 255, 128])
def test_pad_centres_the_whole_image_on_a_constant_canvas(pad_value):
    data = _two_tone_png((40, 20))  # wide: 16x8 after resizing, 4 rows of padding above and below
    arr = decode_image(data, 16, 3, Resize("bicubic", "pad", pad_value))
    assert arr.shape == (3, 16, 16)
    assert (arr[:, :4] == pad_value).all() and (arr[:, 12:] == pad_value).all()
    expected = _chw(_pil_rgb(data).resize((16, 8), Image.Resampling.BICUBIC))
    assert np.array_equal(arr[:, 4:12], expected)
    assert tuple(arr[:, 8, 0]) == (250, 20, 20) and tuple(arr[:, 8, 15]) == (20, 20, 250)  # both halves kept


def test_pad_tall_and_gray_images():
    data = _two_tone_png((21, 40))  # tall: 8x16 after resizing (21 * 16 / 40 = 8.4), 4 columns each side
    arr = decode_image(data, 16, 1, Resize("lanczos", "pad", 7))
    assert arr.shape == (1, 16, 16)
    assert (arr[:, :, :4] == 7).all() and (arr[:, :, 12:] == 7).all()
    assert not (arr[:, :, 4:12] == 7).any()


def test_stretch_keeps_everything_and_ignores_the_aspect_ratio():
    data = _two_tone_png((40, 20))
    arr = decode_image(data, 16, 3, Resize("box", "stretch"))
    assert np.array_equal(arr, _chw(_pil_rgb(data).resize((16, 16), Image.Resampling.BOX)))
    cropped = decode_image(data, 16, 3)
    assert not np.array_equal(arr, cropped)


def test_square_images_are_the_same_for_every_fit():
    data = jpeg_bytes((20, 200, 90), size=(48, 48))
    arrays = [decode_image(data, 12, 3, Resize("lanczos", fit)) for fit in ("centre_crop", "pad", "stretch")]
    assert all(np.array_equal(arrays[0], a) for a in arrays[1:])


def test_folder_records_the_resize_in_its_metadata(tmp_path, ctx_factory):
    write_image_folder(tmp_path / "mine", 4)
    default = load_folder(FolderConfig(path=str(tmp_path / "mine"), image_size=8), ctx_factory("mine"))
    assert default.meta["resize"] == {"filter": "bicubic", "fit": "centre_crop", "antialias": True}
    cfg = FolderConfig(
        path=str(tmp_path / "mine"), image_size=8, resize_filter="nearest", fit="pad", pad_value=9
    )
    padded = load_folder(cfg, ctx_factory("mine"))
    assert padded.meta["resize"] == {"filter": "nearest", "fit": "pad", "antialias": False, "pad_value": 9}
    assert (padded.images[:, :, 0] == 9).all()  # the 40x30 images: 8x6 after resizing, a row above
    assert not torch.equal(default.images, padded.images)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            {"resize_filter": "cubic"},
            "unknown resize_filter 'cubic'; known: bicubic, lanczos, bilinear, box, nearest",
        ),
        ({"fit": "letterbox"}, "unknown fit 'letterbox'; known: centre_crop, pad, stretch"),
        ({"pad_value": 256}, "pad_value must be a grey level from 0 to 255, got 256"),
    ],
)
def test_unknown_resize_options(options, expected):
    with pytest.raises(ValueError, match=re.escape(expected)):
        FolderConfig(path="x", **options)
    with pytest.raises(ConfigError) as err:
        from_dict(FolderConfig, {"path": "x", **options}, "datasets.mine")
    assert str(err.value) == f"datasets.mine: {expected}"
