import io
import tarfile

import numpy as np
import pytest
import torch

from ganforge.core.config import from_dict
from ganforge.core.errors import ConfigError, DataError, MissingDataError
from ganforge.data.cifar import CIFAR10, CIFAR100, CifarConfig, load_cifar
from tests.builders import cifar_arrays, truncated, write_cifar_tar


def mirror_with(tmp_path, which, per_file=6, **kwargs):
    name = CIFAR10.archive if which == "cifar10" else CIFAR100.archive
    write_cifar_tar(tmp_path / "mirror" / which / name, which, per_file, **kwargs)
    return tmp_path / "mirror"


def test_cifar10_train_split_is_the_five_batches_in_order(tmp_path, ctx_factory):
    ds = load_cifar("cifar10", CifarConfig(), ctx_factory("cifar10", mirror_with(tmp_path, "cifar10")))
    assert ds.images.shape == (30, 3, 32, 32) and ds.images.dtype == torch.uint8
    expected = np.concatenate([cifar_arrays(6, 10, seed=k)[0] for k in range(5)])
    np.testing.assert_array_equal(ds.images.numpy(), expected)  # R, G and B planes in record order
    labels = np.concatenate([cifar_arrays(6, 10, seed=100 + k + 10)[1] for k in range(5)])
    np.testing.assert_array_equal(ds.labels.numpy(), labels)
    assert ds.class_names == [f"class{c}" for c in range(10)]
    assert ds.meta["inputs"][0]["origin"] == "mirror" and ds.meta["counts"]["available"] == 30
    assert "not verified" in ds.meta["inputs"][0]["verified_by"]


def test_test_split_and_limit(tmp_path, ctx_factory):
    mirror = mirror_with(tmp_path, "cifar10")
    ds = load_cifar("cifar10", CifarConfig(split="test", limit=4), ctx_factory("cifar10", mirror))
    np.testing.assert_array_equal(ds.images.numpy(), cifar_arrays(6, 10, seed=5)[0][:4])
    assert ds.meta["counts"] == {"available": 6, "kept": 4, "skipped": 0}


@pytest.mark.parametrize(("labels", "classes", "seed_offset"), [("fine", 100, 100), ("coarse", 20, 20)])
def test_cifar100_fine_or_coarse_labels(tmp_path, ctx_factory, labels, classes, seed_offset):
    mirror = mirror_with(tmp_path, "cifar100", per_file=8)
    ds = load_cifar("cifar100", CifarConfig(labels=labels), ctx_factory("cifar100", mirror))
    assert len(ds) == 8 and len(ds.class_names) == classes
    np.testing.assert_array_equal(ds.labels.numpy(), cifar_arrays(8, classes, seed=100 + seed_offset)[1])
    assert ds.meta["label_set"] == labels


def test_cifar10_has_no_coarse_labels(tmp_path, ctx_factory):
    with pytest.raises(DataError, match="cifar10 has no coarse labels"):
        load_cifar(
            "cifar10", CifarConfig(labels="coarse"), ctx_factory("c", mirror_with(tmp_path, "cifar10"))
        )


def test_the_pickled_archive_is_refused_with_its_reason(tmp_path, ctx_factory):
    write_cifar_tar(tmp_path / "m" / "cifar10" / "cifar-10-python.tar.gz", "cifar10", 1, pickled=True)
    with pytest.raises(MissingDataError) as err:
        load_cifar("cifar10", CifarConfig(), ctx_factory("cifar10", tmp_path / "m"))
    message = str(err.value)
    assert "pickled Python version" in message and "cifar-10-binary.tar.gz" in message and "\n" not in message


def test_a_pickled_layout_under_the_binary_name_is_refused(tmp_path, ctx_factory):
    write_cifar_tar(tmp_path / "m" / "cifar10" / CIFAR10.archive, "cifar10", 1, pickled=True)
    with pytest.raises(DataError, match="pickled Python version"):
        load_cifar("cifar10", CifarConfig(), ctx_factory("cifar10", tmp_path / "m"))


def test_naming_a_python_archive_is_a_config_error():
    with pytest.raises(ConfigError, match="pickled Python version"):
        from_dict(CifarConfig, {"archive": "cifar-10-python.tar.gz"}, "datasets.cifar10")


def test_wrong_checksum_is_one_line(tmp_path, ctx_factory):
    mirror = mirror_with(tmp_path, "cifar100")
    with pytest.raises(DataError) as err:
        load_cifar("cifar100", CifarConfig(), ctx_factory("cifar100", mirror, verify_checksums=True))
    assert "checksum mismatch" in str(err.value) and CIFAR100.md5 in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_damaged_archives_are_one_line(tmp_path, ctx_factory, damage):
    mirror = mirror_with(tmp_path, "cifar10")
    path = mirror / "cifar10" / CIFAR10.archive
    data = path.read_bytes()
    path.write_bytes(truncated(data) if damage == "truncated" else bytes(range(256)) * 40)
    with pytest.raises(DataError) as err:
        load_cifar("cifar10", CifarConfig(), ctx_factory("cifar10", mirror))
    assert "not a readable tar.gz archive" in str(err.value) and "\n" not in str(err.value)


def test_a_batch_file_of_partial_records_is_refused(tmp_path, ctx_factory):
    path = tmp_path / "m" / "cifar10" / CIFAR10.archive
    path.parent.mkdir(parents=True)
    with tarfile.open(path, "w:gz") as tf:
        for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["batches.meta.txt"]:
            data = b"a\nb\n" if name.endswith(".txt") else bytes(3073 * 2 + 7)
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    with pytest.raises(DataError, match="not a whole number of 3073-byte CIFAR records"):
        load_cifar("cifar10", CifarConfig(), ctx_factory("cifar10", tmp_path / "m"))


def test_missing_offline_names_the_file_and_where_to_put_it(tmp_path, ctx_factory):
    (tmp_path / "m").mkdir()
    with pytest.raises(MissingDataError) as err:
        load_cifar("cifar100", CifarConfig(), ctx_factory("cifar100", tmp_path / "m"))
    message = str(err.value)
    assert "cifar-100-binary.tar.gz" in message and str(tmp_path / "m" / "cifar100") in message
    assert "network is off" in message and "\n" not in message
