"""Using trained models: latents per seed, batch generation, latent tools, the API with its
limits, a real uvicorn process, the page in headless Chromium, and the model registry. The
models are tiny runs trained here (a few steps) into a throw-away project."""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from ganforge.core.errors import ConfigError, DataError, MissingDataError
from ganforge.layout import model_dir
from ganforge.serving.api import ServeSettings, create_app
from ganforge.serving.catalog import Catalog
from ganforge.serving.files import compact_seeds, decode_image, parse_seeds
from ganforge.serving.latent import analogy_grid, apply_vector, between, chain
from ganforge.serving.model import SEED_MAX, seed_latents
from ganforge.serving.tools import generate_files, interpolation_image, translate_folder
from tests.served import MODELS, start_server


@pytest.fixture(scope="module")
def catalog(project) -> Catalog:
    return Catalog(project)


@pytest.fixture(scope="module")
def client(project) -> TestClient:
    return TestClient(create_app(ServeSettings(project=project, max_count=16, max_upload_bytes=20_000)))


def png(size: tuple[int, int] = (40, 30), mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, 128).save(buf, format="PNG")
    return buf.getvalue()


# latents, seeds, interpolation


def test_seed_lists_parse_and_compact():
    assert parse_seeds("0-3,7, 9-10") == [0, 1, 2, 3, 7, 9, 10]
    assert compact_seeds([0, 1, 2, 3, 7, 9, 10]) == "0-3,7,9-10"
    for bad in ("", "a-b", "5-2", f"0,{SEED_MAX + 1}", "-3"):
        with pytest.raises(ConfigError):
            parse_seeds(bad)
    with pytest.raises(ConfigError, match="more than 4"):
        parse_seeds("0-9", limit=4)


def test_a_seeds_latent_does_not_depend_on_its_neighbours():
    together = seed_latents([5, 6, 7], 16)
    assert torch.equal(together[1], seed_latents([6], 16)[0])
    assert not torch.equal(together[0], together[1])


def test_interpolation_endpoints_norms_chains_and_the_analogy_corner():
    a, b = seed_latents([1, 2], 64)
    for mode in ("slerp", "lerp"):
        path = between(a, b, 9, mode)
        assert torch.allclose(path[0], a, atol=1e-5) and torch.allclose(path[-1], b, atol=1e-5)
    unit_a, unit_b = a / a.norm(), b / b.norm()
    spherical = between(unit_a, unit_b, 9, "slerp").norm(dim=1)
    linear = between(unit_a, unit_b, 9, "lerp").norm(dim=1)
    assert torch.allclose(spherical, torch.ones(9), atol=1e-5)  # stays on the sphere
    assert linear[4] < 0.9  # the chord cuts inside it
    c = seed_latents([3], 64)[0]
    path = chain(torch.stack([a, b, c]), 5)
    assert len(path) == 9 and torch.allclose(path[4], b, atol=1e-5)
    grid = analogy_grid(a, b, c, 4)
    assert torch.allclose(grid[0], a) and torch.allclose(grid[3], b) and torch.allclose(grid[12], c)
    assert torch.allclose(grid[15], c + (b - a), atol=1e-5)
    moved = apply_vector(torch.stack([a, b]), (c - a).tolist(), [0.0, 1.0])
    assert moved.shape == (4, 64) and torch.allclose(moved[1], c, atol=1e-5)


# batch generation and translation


def test_same_seed_same_image_whatever_the_batch_size(catalog, tmp_path):
    model = catalog.get("dcgan_emoji64")  # batch norm: must be in eval mode
    one = np.stack([np.asarray(Image.open(p)) for p in _gen(model, tmp_path / "b1", 1)])
    many = np.stack([np.asarray(Image.open(p)) for p in _gen(model, tmp_path / "b7", 7)])
    assert np.abs(one.astype(int) - many.astype(int)).max() <= 1


def _gen(model, out: Path, batch: int) -> list[Path]:
    generate_files(model, list(range(10, 22)), out, batch_size=batch, progress=False)
    return sorted(out.glob("seed*.png"))


def test_generate_writes_one_png_per_seed_and_a_sidecar(catalog, tmp_path):
    model = catalog.get("cgan_mnist")
    meta = generate_files(model, [0, 1, 2, 1000], tmp_path, label=3, truncation=0.5, progress=False)
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "seed0000.png", "seed0001.png", "seed0002.png", "seed1000.png"
    ]  # fmt: skip
    side = json.loads((tmp_path / "generate.json").read_text())
    assert side == meta and side["seeds"] == "0-2,1000" and side["label"] == 3
    assert side["truncation"]["psi"] == 0.5 and side["variant"] == "cgan_mnist" and side["run_seed"] == 0
    assert {"git_commit", "dataset", "stand_in", "generator"} <= set(side)


def test_npz_streams_images_and_toy_models_write_points(catalog, tmp_path):
    generate_files(
        catalog.get("gan_mnist"), list(range(50)), tmp_path / "n", "npz", batch_size=16, progress=False
    )
    with np.load(tmp_path / "n" / "samples.npz") as z:
        assert z["images"].shape == (50, 28, 28, 1) or z["images"].shape[0] == 50
        assert z["images"].dtype == np.uint8 and list(z["seeds"]) == list(range(50))
    assert not list((tmp_path / "n").glob(".*.npy"))  # the streaming files are gone
    generate_files(catalog.get("gan_ring"), list(range(30)), tmp_path / "p", progress=False)
    rows = (tmp_path / "p" / "points.csv").read_text().splitlines()
    assert rows[0] == "seed,x,y" and len(rows) == 31
    assert (tmp_path / "p" / "points.png").is_file()


def test_bad_generation_requests_fail_before_writing(catalog, tmp_path):
    out = tmp_path / "never"
    cases = [
        (dict(model=catalog.get("gan_mnist"), truncation=1.5), "truncation"),
        (dict(model=catalog.get("gan_mnist"), fmt="csv"), "format"),
        (dict(model=catalog.get("gan_mnist"), label=2), "not conditional"),
        (dict(model=catalog.get("cgan_mnist")), "conditional"),
        (dict(model=catalog.get("pix2pix_edges2emoji64")), "translate"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ConfigError, match=message):
            generate_files(seeds=[0, 1], out=out, progress=False, **kwargs)
    assert not out.exists()


def test_translate_a_folder_and_refuse_a_corrupt_file(catalog, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        (src / f"img{i}.png").write_bytes(png((50, 40)))
    meta = translate_folder(catalog.get("cyclegan_mnist2color"), src, tmp_path / "out", "b2a", progress=False)
    outs = sorted((tmp_path / "out").glob("*.png"))
    assert [p.name for p in outs] == ["img0.png", "img1.png", "img2.png"] and meta["direction"] == "b2a"
    assert Image.open(outs[0]).size == (meta["image_size"],) * 2
    (src / "broken.png").write_bytes(png()[:40])
    with pytest.raises(DataError, match=r"broken\.png is not a readable image"):
        translate_folder(catalog.get("cyclegan_mnist2color"), src, tmp_path / "out2", progress=False)
    assert not (tmp_path / "out2").exists()


def test_decoding_checks_the_size_before_the_pixels():
    with pytest.raises(DataError, match="at most 64 pixels"):
        decode_image(png((100, 20)), "big.png", 3, max_side=64)
    assert decode_image(png((10, 8), "L"), "g.png", 3).shape == (3, 8, 10)


def test_an_interpolation_grid_and_names_are_looked_up_never_joined(catalog):
    images, per_row = interpolation_image(catalog.get("gan_mnist"), [1, 2, 3], 4, "analogy")
    assert images.shape[0] == 16 and per_row == 4
    for bad in ("../gan_mnist", "gan_mnist/0", "/etc/passwd", "..", "models"):
        with pytest.raises(ConfigError, match="unknown model"):
            catalog.get(bad)


# the API


def test_health_and_models_describe_every_run(client):
    assert client.get("/health").json()["models"] == len(MODELS)
    listed = {m["variant"]: m for m in client.get("/models").json()["models"]}
    assert set(listed) == set(MODELS)
    assert listed["cgan_mnist"]["conditional"] and not listed["gan_mnist"]["conditional"]
    assert listed["gan_ring"]["produces"] == "points"
    assert listed["cyclegan_mnist2color"]["directions"] == ["a2b", "b2a"]
    assert listed["gan_mnist"]["run_seeds"] == [0] and "stand_in" in listed["dcgan_emoji64"]


@pytest.mark.parametrize("name", [m for m in MODELS if "2" not in m])
def test_generate_answers_for_every_latent_model(client, name):
    body = {"model": name, "seeds": [0, 1, 2]} | ({"class": 1} if name.startswith("c") else {})
    r = client.post("/generate", json=body)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(r.content)).size[0] > 0


def test_generate_formats(client):
    r = client.post("/generate", json={"model": "gan_mnist", "count": 2, "base_seed": 9, "format": "png"})
    assert [i["seed"] for i in r.json()["images"]] == [9, 10]
    r = client.post("/generate", json={"model": "gan_ring", "seeds": [1, 2], "format": "points"})
    assert np.array(r.json()["points"]).shape == (2, 2)


def test_interpolate_answers_with_a_strip_and_an_analogy_grid(client):
    strip = client.post("/interpolate", json={"model": "gan_mnist", "seeds": [1, 2, 3], "steps": 4})
    grid = client.post(
        "/interpolate",
        json={"model": "cgan_mnist", "seeds": [1, 2, 3], "steps": 4, "mode": "analogy", "class": 2},
    )
    assert strip.status_code == grid.status_code == 200
    w, h = Image.open(io.BytesIO(strip.content)).size
    assert 1.8 * h < w < 2.2 * h  # two legs of 4 images: 2 rows of 4
    gw, gh = Image.open(io.BytesIO(grid.content)).size
    assert gw == gh  # 4 × 4


def test_translate_answers_for_every_translation_model(client):
    for name in ("pix2pix_edges2emoji64", "cyclegan_mnist2color"):
        r = client.post("/translate", data={"model": name}, files={"file": ("x.png", png(), "image/png")})
        assert r.status_code == 200, r.text
        assert Image.open(io.BytesIO(r.content)).size[0] > 0


BAD_REQUESTS = [
    ("/generate", {"model": "gan_mnist", "count": 17}, 400, "at most 16 images"),
    ("/generate", {"model": "gan_mnist", "seeds": [SEED_MAX + 1]}, 422, "seeds.0"),
    ("/generate", {"model": "gan_mnist", "seeds": [-1]}, 422, "seeds.0"),
    ("/generate", {"model": "gan_mnist", "seeds": [1], "truncation": 2}, 422, "truncation"),
    ("/generate", {"model": "gan_mnist", "seeds": [1], "size": 2}, 422, "size: Extra inputs"),
    ("/generate", {"model": "gan_mnist", "seeds": "1"}, 422, "seeds"),
    ("/generate", {"model": "gan_mnist"}, 400, "either seeds or count"),
    ("/generate", {"model": "gan_mnist", "count": 2, "base_seed": SEED_MAX}, 400, "past the end"),
    ("/generate", {"model": "nope", "seeds": [1]}, 404, "unknown model 'nope'"),
    ("/generate", {"model": "../../etc/passwd", "seeds": [1]}, 404, "unknown model"),
    ("/generate", {"model": "gan_mnist", "run_seed": 3, "seeds": [1]}, 400, "no run seed 3"),
    ("/generate", {"model": "cgan_mnist", "seeds": [1]}, 400, "give a class"),
    ("/generate", {"model": "cgan_mnist", "seeds": [1], "class": 12}, 400, "out of range"),
    ("/generate", {"model": "gan_mnist", "seeds": [1], "class": 1}, 400, "not conditional"),
    ("/generate", {"model": "gan_mnist", "seeds": [1], "format": "points"}, 400, "not points"),
    ("/generate", {"model": "pix2pix_edges2emoji64", "seeds": [1]}, 400, "translates images"),
    ("/generate", {"model": "models:/gan_mnist/x", "seeds": [1]}, 400, "bad model URI"),
    ("/interpolate", {"model": "gan_mnist", "seeds": [1]}, 422, "seeds: List should have at least 2"),
    ("/interpolate", {"model": "gan_mnist", "seeds": [1, 2], "steps": 17}, 400, "at most 16 steps"),
    (
        "/interpolate",
        {"model": "gan_mnist", "seeds": [1, 2, 3], "mode": "analogy", "steps": 5},
        400,
        "at most 16 images",
    ),
    ("/interpolate", {"model": "gan_mnist", "seeds": [1, 2], "mode": "spiral"}, 422, "mode"),
    ("/atvec", {"model": "cgan_mnist", "class": 1, "seeds": [0]}, 400, "conditional"),
    ("/atvec", {"model": "gan_mnist", "class": "zebra", "seeds": [0]}, 400, "unknown class 'zebra'"),
    ("/atvec", {"model": "gan_mnist", "class": 1, "seeds": [0, 1, 2, 3]}, 400, "at most 16 images"),
    ("/atvec", {"model": "gan_mnist", "class": 1, "seeds": [0]}, 404, "no domain classifier"),
]


@pytest.mark.parametrize(("path", "body", "status", "reason"), BAD_REQUESTS)
def test_every_bad_request_gets_a_4xx_with_a_one_line_reason(client, path, body, status, reason):
    r = client.post(path, json=body)
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and reason in detail, detail


def test_bad_uploads_get_a_4xx_with_a_reason(client):
    def upload(data: bytes, **form: str):
        return client.post(
            "/translate",
            data={"model": "pix2pix_edges2emoji64", **form},
            files={"file": ("f.png", data, "image/png")},
        )

    cases = [
        (upload(b"\x89PNG" + bytes(30_000)), 413, "at most 20000 bytes"),
        (upload(png()[:50]), 400, "not a readable image"),
        (upload(b""), 400, "empty"),
        (upload(png((1500, 10))), 400, "at most 1024 pixels"),
        (upload(png(), direction="b2a"), 400, "translates a2b, not b2a"),
        (upload(png(), direction="sideways"), 422, "direction"),
        (
            client.post(
                "/translate", data={"model": "gan_mnist"}, files={"file": ("f.png", png(), "image/png")}
            ),
            400,
            "does not translate",
        ),
        (client.post("/translate", data={"model": "pix2pix_edges2emoji64"}), 422, "file: Field required"),
    ]
    for r, status, reason in cases:
        assert r.status_code == status and reason in r.json()["detail"], r.text


def test_api_key_and_cors(project):
    settings = ServeSettings(project=project, api_key="s3cret", cors_origins=("http://lab.example",))
    c = TestClient(create_app(settings))
    assert c.get("/health").status_code == 200  # health and the page stay open
    assert c.get("/").status_code == 200
    r = c.post("/generate", json={"model": "gan_mnist", "seeds": [1]})
    assert r.status_code == 401 and "X-API-Key" in r.json()["detail"]
    assert (
        c.post(
            "/generate", json={"model": "gan_mnist", "seeds": [1]}, headers={"X-API-Key": "wrong"}
        ).status_code
        == 401
    )
    ok = c.post(
        "/generate",
        json={"model": "gan_mnist", "seeds": [1]},
        headers={"X-API-Key": "s3cret", "Origin": "http://lab.example"},
    )
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "http://lab.example"
    other = c.get("/health", headers={"Origin": "http://elsewhere.example"})
    assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Authorization": "Bearer s3cret"}, 200),
        ({"authorization": "bearer s3cret"}, 200),  # the scheme is case-insensitive
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": "Basic s3cret"}, 401),
        ({"Authorization": "s3cret"}, 401),
        ({"x-api-key": "s3cret"}, 200),
    ],
)
def test_the_api_key_is_accepted_as_a_bearer_token_too(project, headers, status):
    c = TestClient(create_app(ServeSettings(project=project, api_key="s3cret")))
    r = c.post("/generate", json={"model": "gan_mnist", "seeds": [1]}, headers=headers)
    assert r.status_code == status, r.text
    if status == 401:
        assert "Bearer" in r.json()["detail"]


def test_keys_are_compared_in_constant_time(monkeypatch):
    """The comparison goes through hmac.compare_digest, whatever the key's length or prefix."""
    import ganforge.serving.service as api

    seen = []
    monkeypatch.setattr(api.hmac, "compare_digest", lambda a, b: seen.append((a, b)) or a == b)
    assert api.key_matches("s3cret", "s3cret") and not api.key_matches("s3", "s3cret")
    assert seen == [(b"s3cret", b"s3cret"), (b"s3", b"s3cret")]


def test_models_load_lazily_into_a_bounded_cache(project):
    cat = Catalog(project, cache_size=2)
    assert cat.cached() == 0 and len(cat.runs()) == len(MODELS)
    first = cat.get("gan_mnist")
    assert cat.get("gan_mnist") is first and cat.get("gan_mnist", 0) is first  # by name: a cache hit
    for name in MODELS[:4]:
        cat.get(name)
    assert cat.cached() == 2


# a real server, the page, the registry


@pytest.fixture(scope="module")
def server(project):
    """`ganforge serve` as a real uvicorn process on the project."""
    proc, url = start_server(project)
    yield url
    os.killpg(proc.pid, signal.SIGTERM)
    proc.communicate(timeout=30)


def test_a_real_uvicorn_process_serves_requests_concurrently(server):
    import concurrent.futures

    import httpx

    def call(seed: int) -> int:
        return httpx.post(
            f"{server}/generate", json={"model": "dcgan_emoji64", "seeds": [seed]}, timeout=30
        ).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(call, range(24)))
    assert codes == [200] * 24
    r = httpx.post(f"{server}/generate", json={"model": "../x", "seeds": [1]}, timeout=10)
    assert r.status_code == 404 and "unknown model" in r.json()["detail"]


def d_text(driver, element: str) -> str:
    return driver.find_element("id", element).text


def chromium() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.mark.skipif(
    chromium() is None,
    reason="no chromium and chromedriver (Debian: apt-get install chromium chromium-driver)",
)
def test_the_page_renders_a_new_image_when_the_seed_changes(server):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import Select, WebDriverWait

    browser, driver_path = chromium()  # type: ignore[misc]
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        driver.get(server)
        wait = WebDriverWait(driver, 30)
        wait.until(lambda d: not d_text(d, "status").startswith("Loading") or d_text(d, "error"))
        assert d_text(driver, "status") == f"{len(MODELS)} trained models.", d_text(driver, "error")
        Select(driver.find_element("id", "model")).select_by_value("gan_mnist")
        loaded = "const i = document.getElementById('sample'); return i.complete && i.naturalWidth > 0 ? i.src : null;"
        first = wait.until(lambda d: d.execute_script(loaded))
        driver.execute_script(
            "const s = document.getElementById('seednum'); s.value = 42; s.dispatchEvent(new Event('change'));"
        )
        second = wait.until(lambda d: (src := d.execute_script(loaded)) and src != first and src)
        assert second.startswith("blob:")
        assert driver.execute_script("return document.getElementById('sample').dataset.seed") == "42"
        assert driver.find_element("id", "error").text == ""
        # Nothing requested yet under Interpolate, the attribute vector and Translate: no image
        # is drawn there (an <img> without a source shows a broken-image icon), until asked for.
        for empty in ("interpimg", "atimg", "translated"):
            assert not driver.find_element("id", empty).is_displayed(), empty
        driver.find_element("id", "interp").click()
        strip = "const i = document.getElementById('interpimg'); return i.complete && i.naturalWidth > 0;"
        wait.until(lambda d: d.execute_script(strip))
        assert driver.find_element("id", "interpimg").is_displayed()
        assert driver.find_element("id", "error").text == ""
    finally:
        driver.quit()


def test_registry_round_trip_without_unpickling(project, tmp_path, monkeypatch):
    import mlflow.pyfunc
    from mlflow.tracking import MlflowClient

    from ganforge.serving.pyfunc import load_registered
    from ganforge.serving.registry import Registration, register_runs

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri, uri)
    exp = client.create_experiment("t", artifact_location=str(tmp_path / "artifacts"))
    run_id = client.create_run(exp).info.run_id
    generator = model_dir(project, "cgan_mnist", 0) / "generator.pt"
    reg = Registration("cgan_mnist", generator, run_id, {"seed": "0", "fingerprint": "f", "score.fd": "12.5"})
    assert register_runs(uri, [reg]).registered == 1
    assert register_runs(uri, [reg]).unchanged == 1  # idempotent

    def refuse(*args, **kwargs):
        raise AssertionError("something was unpickled")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    loaded = load_registered("models:/cgan_mnist/1", uri)
    with pytest.raises(
        MissingDataError,
        match=r"^models:/cgan_mnist/7 is not in the model registry; cgan_mnist has versions 1$",
    ):
        load_registered("models:/cgan_mnist/7", uri)
    with pytest.raises(
        MissingDataError,
        match=r"^models:/nope/1 is not in the model registry; registered models: cgan_mnist$",
    ):
        load_registered("models:/nope/1", uri)
    local = Catalog(project).get("cgan_mnist")
    z = local.latents([3, 4, 5])
    assert torch.equal(loaded.decode(z, 2), local.decode(z, 2))
    assert loaded.scores == {"fd": 12.5}
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    pyfunc = mlflow.pyfunc.load_model("models:/cgan_mnist/1")
    import pandas as pd

    images = pyfunc.predict(pd.DataFrame({"seed": [3, 4, 5], "class": [2, 2, 2]}))
    assert np.array_equal(images, local.decode(z, 2).permute(0, 2, 3, 1).numpy())
    with pytest.raises(Exception, match="not in the model registry"):
        load_registered("models:/cgan_mnist/7", uri)


def bad_requests() -> list[tuple[str, str, dict]]:
    """At least one bad request per route, reaching each kind of error a route can give: an
    unknown run, an unknown registry URI, values out of range, undecodable uploads."""
    upload = {"file": ("x.png", png(), "image/png")}
    return [
        ("get", "/models", {}),
        ("post", "/generate", {"json": {"model": "nope", "seeds": [1]}}),
        ("post", "/generate", {"json": {"model": "models:/nope/1", "seeds": [1]}}),
        ("post", "/generate", {"json": {"model": "models:/bad-uri", "seeds": [1]}}),
        ("post", "/generate", {"json": {"model": "gan_mnist", "seeds": [-1]}}),
        ("post", "/generate", {"json": {"model": "gan_mnist", "seeds": [1], "run_seed": 9}}),
        ("post", "/generate", {"json": {}}),
        ("post", "/interpolate", {"json": {"model": "models:/nope/1", "seeds": [1, 2], "steps": 4}}),
        ("post", "/interpolate", {"json": {"model": "gan_mnist", "seeds": [1, 2], "steps": 999}}),
        ("post", "/atvec", {"json": {"model": "models:/nope/1", "class": 7}}),
        ("post", "/atvec", {"json": {"model": "gan_mnist", "class": "nope"}}),
        ("post", "/translate", {"data": {"model": "models:/nope/1"}, "files": upload}),
        ("post", "/translate", {"data": {"model": "gan_mnist"}, "files": upload}),
        (
            "post",
            "/translate",
            {"data": {"model": "pix2pix_edges2emoji64"}, "files": {"file": ("x.png", b"junk", "image/png")}},
        ),
    ]


def test_no_response_names_a_path_of_the_server(client, project):
    """Error bodies (and the model list) say what was asked and what exists, never where the
    server keeps its files: no absolute path of the project or its registry store, on every
    route."""
    routes = {(m.lower(), r.path) for r in client.app.routes for m in getattr(r, "methods", ())}
    exercised = {(method, path) for method, path, _ in bad_requests()}
    assert {
        r
        for r in routes
        if r[1] not in ("/", "/health") and not r[1].startswith(("/docs", "/openapi", "/redoc"))
    } <= exercised
    secrets = {str(project), str(project.resolve()), str(Path.home())}
    for method, path, kwargs in bad_requests():
        r = getattr(client, method)(path, **kwargs)
        assert r.status_code < 500, (path, kwargs, r.text)
        leaked = [s for s in secrets if s in r.text]
        assert not leaked, f"{method.upper()} {path} {kwargs}: the body names {leaked}: {r.text[:300]}"
