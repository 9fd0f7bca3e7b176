import hashlib
import io

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.core.config import from_dict
from ganforge.core.errors import ConfigError, DataError, MissingDataError
from ganforge.data.celeba import ATTRIBUTE_NAMES, CelebaConfig, celeba_missing, load_celeba
from ganforge.data.folder import subset
from tests.builders import CELEBA_N as N
from tests.builders import attr_text, attribute_rows, face_jpeg, write_celeba


@pytest.fixture
def mirror(tmp_path):
    write_celeba(tmp_path / "mirror" / "celeba")
    return tmp_path / "mirror"


def load(ctx, **kw):
    return load_celeba(CelebaConfig(**kw), ctx)


def test_reads_the_aligned_images(mirror, ctx_factory):
    ds = load(ctx_factory("celeba", mirror))
    assert ds.images.shape == (N, 3, 64, 64) and ds.images.dtype == torch.uint8
    assert ds.labels is None and ds.class_names == []
    meta = ds.meta
    assert meta["stand_in"] is False and meta["partition"] == "all" and meta["crop"] == 140
    assert meta["preprocessing"] == (
        "centre crop 140x140 of the aligned 178x218 image, resize to 64 with PIL bicubic (antialiased)"
    )
    assert meta["resize"] == {"filter": "bicubic", "fit": "centre_crop", "antialias": True}
    assert meta["counts"] == {"read": N, "kept": N, "skipped": 0, "available": N, "listed": N, "unlisted": 0}
    zip_rec, attr_rec = meta["inputs"]
    zip_path = mirror / "celeba" / "img_align_celeba.zip"
    assert zip_rec["sha256"] == hashlib.sha256(zip_path.read_bytes()).hexdigest()
    assert zip_rec["origin"] == "mirror" and zip_rec["manifest_sha256"]
    assert attr_rec["file"] == "list_attr_celeba.txt" and "not verified" in attr_rec["verified_by"]


def test_default_is_a_centre_crop_then_pil_bicubic(mirror, ctx_factory):
    ds = load(ctx_factory("celeba", mirror), limit=None)
    img = Image.open(io.BytesIO(face_jpeg(0))).convert("RGB")
    expected = np.asarray(img.crop((19, 39, 159, 179)).resize((64, 64), Image.Resampling.BICUBIC))
    assert np.array_equal(ds.images[0].numpy().transpose(1, 2, 0), expected)
    lanczos = load(ctx_factory("celeba", mirror), resize_filter="lanczos", image_size=32, crop=108)
    expected = np.asarray(img.crop((35, 55, 143, 163)).resize((32, 32), Image.Resampling.LANCZOS))
    assert np.array_equal(lanczos.images[0].numpy().transpose(1, 2, 0), expected)
    assert lanczos.meta["resize"]["filter"] == "lanczos"
    assert "centre crop 108x108" in lanczos.meta["preprocessing"]


def test_labels_from_one_attribute(mirror, ctx_factory):
    ds = load(ctx_factory("celeba", mirror), label_attribute="Male", image_size=16)
    assert ds.class_names == ["not Male", "Male"]
    assert ds.labels.dtype == torch.int64
    assert ds.labels.tolist() == [1 if i % 3 == 0 else 0 for i in range(N)]
    assert ds.meta["label_attribute"] == "Male"


def test_partitions(mirror, ctx_factory):
    ctx = ctx_factory("celeba", mirror)
    every = load(ctx, image_size=16)
    train = load(ctx, image_size=16, partition="train", label_attribute="Male")
    val = load(ctx, image_size=16, partition="val")
    test = load(ctx, image_size=16, partition="test")
    assert (len(train), len(val), len(test)) == (16, 4, 4)
    assert torch.equal(train.images, every.images[:16]) and torch.equal(test.images, every.images[20:])
    assert train.labels.tolist() == [1 if i % 3 == 0 else 0 for i in range(16)]
    assert train.meta["split"] == "train" and len(train.meta["inputs"]) == 3
    assert train.meta["counts"]["available"] == 16


def test_limit_draws_a_seeded_subset(mirror, ctx_factory):
    ctx = ctx_factory("celeba", mirror)
    every = load(ctx, image_size=16)
    a = load(ctx, image_size=16, limit=5)
    b = load(ctx, image_size=16, limit=5, subset_seed=1)
    assert len(a) == 5 and torch.equal(a.images, every.images[subset(N, 5, 0)])
    assert not torch.equal(a.images, b.images)
    part = load(ctx, image_size=16, limit=3, partition="test")
    assert torch.equal(part.images, every.images[20:][subset(4, 3, 0)])


def test_from_the_download_cache(tmp_path, ctx_factory):
    write_celeba(tmp_path / "raw" / "celeba", n=6, partitions=False)
    ds = load(ctx_factory("celeba"), image_size=8)
    assert len(ds) == 6 and ds.meta["inputs"][0]["origin"] == "cache"


def test_missing_files_say_where_to_put_them(tmp_path, ctx_factory):
    with pytest.raises(MissingDataError) as err:
        load(ctx_factory("celeba", tmp_path / "mirror"))
    message = str(err.value)
    assert "img_align_celeba.zip" in message and str(tmp_path / "mirror" / "celeba") in message
    assert "raw/celeba" in message and "list_attr_celeba.txt" in message and "\n" not in message


def test_partition_needs_the_partition_file(tmp_path, ctx_factory):
    write_celeba(tmp_path / "mirror" / "celeba", partitions=False)
    ctx = ctx_factory("celeba", tmp_path / "mirror")
    assert len(load(ctx, image_size=8)) == N  # `all` does not need it
    with pytest.raises(MissingDataError) as err:
        load(ctx, image_size=8, partition="val")
    message = str(err.value)
    assert "list_eval_partition.txt" in message and "partition: all does not" in message
    assert "\n" not in message


def test_checksums_refuse_a_file_that_is_not_the_official_one(mirror, ctx_factory):
    with pytest.raises(DataError) as err:
        load(ctx_factory("celeba", mirror, verify_checksums=True))
    message = str(err.value)
    assert "img_align_celeba.zip" in message and "00d2c5bc6d35e252742224ab0c1e8fcb" in message
    assert "data.verify_checksums: false" in message and "\n" not in message


def test_truncated_archive(mirror, ctx_factory):
    path = mirror / "celeba" / "img_align_celeba.zip"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"img_align_celeba\.zip is not a readable zip archive") as err:
        load(ctx_factory("celeba", mirror))
    assert "\n" not in str(err.value)


def _rows_with(edit):
    lines = attr_text(rows=attribute_rows(N)).splitlines()
    edit(lines)
    return "\n".join(lines) + "\n"


def _drop_value(lines):
    lines[4] = lines[4].rsplit(" ", 1)[0]


def _zero_value(lines):
    lines[6] = lines[6][:-2] + " 0"


def _unknown_file(lines):
    lines[0] = str(N + 1)
    lines.append("000099.jpg " + " ".join(["-1"] * len(ATTRIBUTE_NAMES)))


def _wrong_count(lines):
    lines[0] = "202599"


def _duplicate(lines):
    lines[0] = str(N + 1)
    lines.append(lines[3])


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (_drop_value, r"line 5: 39 values for 40 attributes"),
        (_zero_value, r"line 7: attribute value '0' is not 1 or -1"),
        (_unknown_file, r"line 27: 000099.jpg is not in img_align_celeba.zip"),
        (_wrong_count, r"line 1: says 202599 images, but the file lists 24"),
        (_duplicate, r"line 27: 000002.jpg is listed again \(first on line 4\)"),
    ],
)
def test_malformed_attribute_file(mirror, ctx_factory, edit, expected):
    (mirror / "celeba" / "list_attr_celeba.txt").write_text(_rows_with(edit))
    with pytest.raises(DataError, match=expected) as err:
        load(ctx_factory("celeba", mirror))
    assert "list_attr_celeba.txt" in str(err.value) and "\n" not in str(err.value)


def test_malformed_partition_file(mirror, ctx_factory):
    (mirror / "celeba" / "list_eval_partition.txt").write_text("000001.jpg 0\n000002.jpg train\n")
    with pytest.raises(DataError, match=r"list_eval_partition.txt line 2: expected") as err:
        load(ctx_factory("celeba", mirror), partition="train")
    assert "\n" not in str(err.value)


def test_unknown_attribute_lists_the_known_ones():
    with pytest.raises(
        ValueError, match=r"unknown CelebA attribute 'Beard'; known: 5_o_Clock_Shadow, .*Male, .*Young"
    ):
        CelebaConfig(label_attribute="Beard")
    with pytest.raises(ConfigError) as err:
        from_dict(CelebaConfig, {"label_attribute": "Beard"}, "datasets.celeba")
    assert str(err.value).startswith("datasets.celeba: unknown CelebA attribute 'Beard'; known: ")
    assert "\n" not in str(err.value)


def test_attribute_missing_from_the_file(mirror, ctx_factory):
    names = tuple("Man" if n == "Male" else n for n in ATTRIBUTE_NAMES)
    (mirror / "celeba" / "list_attr_celeba.txt").write_text(attr_text(names=names))
    with pytest.raises(DataError, match=r"has no attribute 'Male'; known: .*Man, ") as err:
        load(ctx_factory("celeba", mirror), label_attribute="Male")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"crop": 200}, "crop must be from 1 to 178"),
        ({"partition": "valid"}, "partition"),
        (
            {"resize_filter": "area"},
            "unknown resize_filter 'area'; known: bicubic, lanczos, bilinear, box, nearest",
        ),
        ({"image_size": 0}, "image_size must be positive"),
    ],
)
def test_bad_options(options, expected):
    with pytest.raises(ConfigError, match=expected) as err:
        from_dict(CelebaConfig, options, "datasets.celeba")
    assert "\n" not in str(err.value)


def test_image_smaller_than_the_crop_is_skipped(tmp_path, ctx_factory):
    write_celeba(tmp_path / "mirror" / "celeba", small=(3,))
    ds = load(
        ctx_factory("celeba", tmp_path / "mirror"), image_size=8, max_bad_fraction=0.1, label_attribute="Male"
    )
    assert len(ds) == N - 1 and ds.labels.shape == (N - 1,)
    skipped = ds.meta["skipped_files"][0]
    assert skipped["file"] == "000004.jpg" and "smaller than the 140x140 crop" in skipped["reason"]


def test_missing_inputs_are_listed_before_any_stage_runs(tmp_path, ctx_factory):
    ctx = ctx_factory("celeba", tmp_path / "mirror", offline=False)  # no download either way
    lines = celeba_missing(CelebaConfig(partition="train"), ctx)
    assert [line.split(": ")[1].split()[0] for line in lines] == [
        "img_align_celeba.zip",
        "list_attr_celeba.txt",
        "list_eval_partition.txt",
    ]
    assert str(tmp_path / "mirror" / "celeba" / "img_align_celeba.zip") in lines[0]
    write_celeba(tmp_path / "mirror" / "celeba", n=2, partitions=False)
    assert celeba_missing(CelebaConfig(), ctx) == []
    assert len(celeba_missing(CelebaConfig(partition="test"), ctx)) == 1
