import zipfile

import pytest
import torch

from ganforge.core.errors import CredentialsError, DataError
from ganforge.data.anime import AnimeConfig, kaggle_api, load_anime
from tests.builders import write_kaggle_zip


@pytest.fixture
def no_kaggle_credentials(tmp_path, monkeypatch):
    for var in ("KAGGLE_API_TOKEN", "KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_CONFIG_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "home" / ".kaggle"))


@pytest.fixture
def fake_kaggle_server(tmp_path, monkeypatch):
    """Legacy-key credentials in the environment, and the API's download call replaced at
    its network boundary by one that writes a zip laid out like Kaggle's archive."""
    monkeypatch.setenv("KAGGLE_USERNAME", "tester")
    monkeypatch.setenv("KAGGLE_KEY", "0123456789abcdef")
    calls = []

    def download(self, dataset, path=None, unzip=False, quiet=True, **kwargs):
        calls.append(dataset)
        write_kaggle_zip(tmp_path / "server.zip", 10, bad=1).replace(f"{path}/animefacedataset.zip")

    from kaggle.api.kaggle_api_extended import KaggleApi

    monkeypatch.setattr(KaggleApi, "dataset_download_files", download)
    return calls


def test_missing_credentials_give_one_clear_error(no_kaggle_credentials):
    with pytest.raises(CredentialsError) as err:
        kaggle_api()
    message = str(err.value)
    for way in (
        "KAGGLE_API_TOKEN",
        "~/.kaggle/access_token",
        "kaggle auth login",
        "kaggle.json",
        "KAGGLE_USERNAME",
    ):
        assert way in message
    assert "\n" not in message


def test_missing_credentials_stop_the_download(no_kaggle_credentials, ctx_factory, tmp_path):
    with pytest.raises(CredentialsError):
        load_anime(AnimeConfig(), ctx_factory("anime", offline=False))
    assert not list((tmp_path / "raw").rglob("*.zip"))


def test_download_through_kaggle(no_kaggle_credentials, fake_kaggle_server, ctx_factory, tmp_path):
    ctx = ctx_factory("anime", offline=False)
    ds = load_anime(AnimeConfig(image_size=16, max_bad_fraction=0.2), ctx)
    assert fake_kaggle_server == ["splcher/animefacedataset"]
    assert ds.images.shape == (9, 3, 16, 16)
    assert ds.meta["counts"]["skipped"] == 1 and ds.meta["inputs"][0]["origin"] == "download"
    assert (tmp_path / "raw" / "anime" / "animefacedataset.zip").is_file()
    load_anime(AnimeConfig(image_size=16, max_bad_fraction=0.2), ctx)
    assert len(fake_kaggle_server) == 1  # the second run reads the cached archive


def test_archive_from_the_mirror(tmp_path, ctx_factory, no_kaggle_credentials):
    write_kaggle_zip(tmp_path / "m" / "anime" / "animefacedataset.zip", 6)
    ds = load_anime(AnimeConfig(image_size=8, limit=4), ctx_factory("anime", tmp_path / "m"))
    assert ds.images.shape == (4, 3, 8, 8) and ds.meta["inputs"][0]["origin"] == "mirror"


def test_corrupt_archive(tmp_path, ctx_factory):
    bad = tmp_path / "m" / "anime" / "animefacedataset.zip"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"PK\x03\x04 definitely not a zip")
    with pytest.raises(DataError, match="not a readable zip archive"):
        load_anime(AnimeConfig(), ctx_factory("anime", tmp_path / "m"))


def test_damaged_member_is_skipped(tmp_path, ctx_factory):
    path = write_kaggle_zip(tmp_path / "m" / "anime" / "animefacedataset.zip", 5)
    with zipfile.ZipFile(path) as zf:
        first = zf.infolist()[0]
    data = bytearray(path.read_bytes())
    start = first.header_offset + 30 + len(first.filename) + 10
    data[start : start + 8] = b"\x00" * 8  # corrupt the member's bytes: CRC check fails
    path.write_bytes(bytes(data))
    ds = load_anime(AnimeConfig(image_size=8, max_bad_fraction=0.5), ctx_factory("anime", tmp_path / "m"))
    assert len(ds) == 4 and "damaged zip member" in ds.meta["skipped_files"][0]["reason"]


def test_bad_dataset_reference():
    with pytest.raises(ValueError, match="owner/name"):
        AnimeConfig(kaggle_dataset="animefaces")


def test_resize_options_reach_the_archive(tmp_path, ctx_factory):
    write_kaggle_zip(tmp_path / "m" / "anime" / "animefacedataset.zip", 4)
    ctx = ctx_factory("anime", tmp_path / "m")
    default = load_anime(AnimeConfig(image_size=8), ctx)
    assert default.meta["resize"] == {"filter": "bicubic", "fit": "centre_crop", "antialias": True}
    padded = load_anime(AnimeConfig(image_size=8, resize_filter="lanczos", fit="pad", pad_value=255), ctx)
    assert padded.meta["resize"] == {"filter": "lanczos", "fit": "pad", "antialias": True, "pad_value": 255}
    assert not torch.equal(default.images, padded.images)


def test_unknown_resize_filter():
    with pytest.raises(ValueError, match="unknown resize_filter 'antialias'; known: bicubic, lanczos"):
        AnimeConfig(resize_filter="antialias")
