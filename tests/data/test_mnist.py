import shutil

import numpy as np
import pytest
import torch

from ganforge.core.config import from_dict
from ganforge.core.errors import ConfigError, DataError, MissingDataError
from ganforge.data.mnist import MnistConfig, load_mnist_family
from tests.builders import digit_images, write_mnist_split


def test_reads_the_test_split_from_the_mirror(tmp_path, ctx_factory):
    write_mnist_split(tmp_path / "mirror" / "mnist", "test", 30)
    ds = load_mnist_family("mnist", MnistConfig(split="test"), ctx_factory("mnist", tmp_path / "mirror"))
    images, labels = digit_images(30)
    assert ds.images.shape == (30, 1, 28, 28) and ds.images.dtype == torch.uint8
    np.testing.assert_array_equal(ds.images[:, 0].numpy(), images)
    np.testing.assert_array_equal(ds.labels.numpy(), labels)
    assert ds.class_names == [str(d) for d in range(10)]
    assert ds.meta["inputs"][0]["origin"] == "mirror"
    assert ds.meta["counts"] == {"available": 30, "kept": 30, "skipped": 0}


def test_limit_keeps_the_first_examples(tmp_path, ctx_factory):
    write_mnist_split(tmp_path / "m" / "mnist", "test", 30)
    ds = load_mnist_family("mnist", MnistConfig(split="test", limit=12), ctx_factory("mnist", tmp_path / "m"))
    assert len(ds) == 12 and ds.meta["counts"]["kept"] == 12


def test_negative_limit_is_a_config_error():
    with pytest.raises(ConfigError, match=r"datasets.mnist: limit must be 0 or more"):
        from_dict(MnistConfig, {"split": "test", "limit": -3}, "datasets.mnist")


def test_unknown_split_is_a_config_error():
    with pytest.raises(ConfigError, match=r"datasets.mnist.split: Input should be 'train' or 'test'"):
        from_dict(MnistConfig, {"split": "valid"}, "datasets.mnist")


def test_training_split_missing_offline_fails_clearly(tmp_path, ctx_factory):
    write_mnist_split(tmp_path / "m" / "mnist", "test", 10)
    with pytest.raises(MissingDataError) as err:
        load_mnist_family("mnist", MnistConfig(split="train"), ctx_factory("mnist", tmp_path / "m"))
    message = str(err.value)
    assert "train-images-idx3-ubyte.gz" in message and "not in the mirror" in message
    assert "use split: test" in message and "\n" not in message


def test_no_mirror_and_offline(ctx_factory):
    with pytest.raises(MissingDataError, match=r"no data mirror is set.*network is off"):
        load_mnist_family("mnist", MnistConfig(split="test"), ctx_factory("mnist"))


def test_download_path_fetches_into_the_cache(tmp_path, ctx_factory, monkeypatch):
    """The network boundary is the downloader: replace it and check the rest is real."""
    source = tmp_path / "server"
    write_mnist_split(source, "train", 20)
    urls = []

    def fake_download(url, folder, filename):
        urls.append(url)
        shutil.copy(source / filename, folder / filename)

    monkeypatch.setattr("ganforge.data.fetch.torchvision_download", fake_download)
    ctx = ctx_factory("mnist", offline=False)
    ds = load_mnist_family("mnist", MnistConfig(split="train"), ctx)
    assert len(ds) == 20
    assert urls[0].endswith("/train-images-idx3-ubyte.gz") and "mnist" in urls[0]
    assert (ctx.raw_dir / "mnist" / "train-images-idx3-ubyte.gz").is_file()
    assert ds.meta["inputs"][0]["origin"] == "download"
    again = load_mnist_family("mnist", MnistConfig(split="train"), ctx)
    assert again.meta["inputs"][0]["origin"] == "cache" and len(urls) == 2


def test_failed_download_names_the_file_and_the_error(tmp_path, ctx_factory, monkeypatch):
    def broken(url, folder, filename):
        raise OSError("Name or service not known")

    monkeypatch.setattr("ganforge.data.fetch.torchvision_download", broken)
    with pytest.raises(MissingDataError, match=r"download failed.*Name or service not known"):
        load_mnist_family("mnist", MnistConfig(split="train"), ctx_factory("mnist", offline=False))
    assert not list((tmp_path / "raw").rglob("*.gz"))


def test_checksum_mismatch_is_reported(tmp_path, ctx_factory):
    write_mnist_split(tmp_path / "m" / "mnist", "test", 10)
    ctx = ctx_factory("mnist", tmp_path / "m", verify_checksums=True)
    with pytest.raises(DataError, match="checksum mismatch"):
        load_mnist_family("mnist", MnistConfig(split="test"), ctx)


def test_labels_that_do_not_match_the_images(tmp_path, ctx_factory):
    folder = tmp_path / "m" / "mnist"
    write_mnist_split(folder, "test", 10)
    from tests.builders import write_idx_gz

    write_idx_gz(folder / "t10k-labels-idx1-ubyte.gz", np.zeros(7, dtype=np.uint8))
    with pytest.raises(DataError, match="expected 10 labels"):
        load_mnist_family("mnist", MnistConfig(split="test"), ctx_factory("mnist", tmp_path / "m"))


def test_fashion_mnist_uses_its_own_folder_and_class_names(tmp_path, ctx_factory):
    write_mnist_split(tmp_path / "m" / "fashion-mnist", "train", 12)
    ds = load_mnist_family("fashion_mnist", MnistConfig(), ctx_factory("fashion_mnist", tmp_path / "m"))
    assert len(ds) == 12 and ds.class_names[0].startswith("T-shirt")
