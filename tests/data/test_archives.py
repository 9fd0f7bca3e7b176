import shutil

import pytest

from ganforge.core.errors import ConfigError, DataError, MissingDataError
from ganforge.data.archives import ArchiveConfig, load_cyclegan, load_pix2pix
from tests.builders import write_cyclegan_zip, write_pix2pix_tar


@pytest.fixture
def fake_server(tmp_path, monkeypatch):
    """The authors' server replaced at the network boundary: serves the archives we build."""
    served = tmp_path / "server"
    write_pix2pix_tar(served / "facades.tar.gz", "facades", "train", 5)
    write_cyclegan_zip(served / "horse2zebra.zip", "horse2zebra", 4, 3)
    urls = []

    def download(url, folder, filename):
        urls.append(url)
        shutil.copy(served / filename, folder / filename)

    monkeypatch.setattr("ganforge.data.fetch.torchvision_download", download)
    return urls


def test_pix2pix_splits_each_image_into_a_and_b(fake_server, ctx_factory):
    ds = load_pix2pix(ArchiveConfig(archive="facades", image_size=16), ctx_factory("facades", offline=False))
    assert fake_server == ["http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/facades.tar.gz"]
    assert ds.kind == "paired" and ds.tensors["a"].shape == (5, 3, 16, 16)
    a, b = ds.tensors["a"].float().mean(dim=(0, 2, 3)), ds.tensors["b"].float().mean(dim=(0, 2, 3))
    assert a[0] > 200 and a[2] < 50  # left half is red
    assert b[2] > 200 and b[0] < 50  # right half is blue


def test_cyclegan_reads_both_domains(fake_server, ctx_factory):
    ds = load_cyclegan(ArchiveConfig(archive="horse2zebra", image_size=8), ctx_factory("h2z", offline=False))
    assert fake_server[0].endswith("/cyclegan/datasets/horse2zebra.zip")
    assert ds.kind == "unpaired"
    assert ds.tensors["a"].shape == (4, 3, 8, 8) and ds.tensors["b"].shape == (3, 3, 8, 8)


def test_archive_from_the_mirror(tmp_path, ctx_factory):
    write_pix2pix_tar(tmp_path / "m" / "pix2pix" / "facades.tar.gz", "facades", "val", 2)
    ds = load_pix2pix(
        ArchiveConfig(archive="facades", split="val", image_size=8), ctx_factory("f", tmp_path / "m")
    )
    assert len(ds) == 2 and ds.meta["inputs"][0]["origin"] == "mirror"


def test_offline_without_the_archive(ctx_factory):
    with pytest.raises(MissingDataError, match=r"cannot find horse2zebra.zip.*network is off"):
        load_cyclegan(ArchiveConfig(archive="horse2zebra"), ctx_factory("h2z"))


def test_unknown_archive_lists_the_known_ones(ctx_factory):
    with pytest.raises(ConfigError, match=r"unknown pix2pix archive 'shoes'; known .*edges2shoes.*facades"):
        load_pix2pix(ArchiveConfig(archive="shoes"), ctx_factory())


def test_truncated_archive(tmp_path, ctx_factory):
    path = write_pix2pix_tar(tmp_path / "m" / "pix2pix" / "facades.tar.gz", "facades", "train", 3)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match="damaged archive"):
        load_pix2pix(ArchiveConfig(archive="facades"), ctx_factory("f", tmp_path / "m"))


def test_split_with_no_images(tmp_path, ctx_factory):
    write_pix2pix_tar(tmp_path / "m" / "pix2pix" / "facades.tar.gz", "facades", "train", 2)
    with pytest.raises(DataError, match="no images for split 'test'"):
        load_pix2pix(ArchiveConfig(archive="facades", split="test"), ctx_factory("f", tmp_path / "m"))
