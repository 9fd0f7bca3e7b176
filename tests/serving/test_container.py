"""The serving image: built from the Dockerfile, run on a project of tiny trained models, and
called on /health and /generate. Needs a running Docker daemon; skips, saying so, without."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from tests.project import ROOT

IMAGE = "ganforge:test"


def docker_available() -> str | None:
    """None when Docker can build and run images here, else why not."""
    if shutil.which("docker") is None:
        return "no docker command on this machine"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=60)
    if info.returncode != 0:
        return "no Docker daemon answers here (docker info failed)"
    return None


REASON = docker_available()


def test_the_dockerfile_runs_as_a_non_root_user_and_serves_by_default():
    """What can be checked without Docker: the image's user and its default command."""
    text = (ROOT / "Dockerfile").read_text()
    assert "USER ganforge" in text and "ARG TORCH_INDEX" in text
    assert 'CMD ["ganforge", "serve", "--host", "0.0.0.0"' in text


@pytest.mark.skipif(REASON is not None, reason=REASON or "")
def test_the_image_serves_health_and_generate(tmp_path):
    from tests.runs import tiny_variant

    subprocess.run(["docker", "build", "-t", IMAGE, str(ROOT)], check=True, timeout=3600)
    from ganforge.layout import model_dir
    from ganforge.runner import RunPaths, train_run

    variant, data = tiny_variant("gan_mnist", steps=4)
    data.meta["data_sha256"] = variant.dataset_sha256
    out = model_dir(tmp_path, "gan_mnist", 0)
    train_run(
        variant, 0, data, RunPaths(tmp_path / "c.pt", tmp_path / "g", out, tmp_path / "c.csv"), say=print
    )
    tmp_path.chmod(0o777)
    name = "ganforge-test"
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    subprocess.run(
        ["docker", "run", "-d", "--name", name, "-p", "18000:8000", "-v", f"{tmp_path}:/project", IMAGE],
        check=True,
    )
    try:
        import httpx

        for _ in range(60):
            try:
                if httpx.get("http://127.0.0.1:18000/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(1)
        r = httpx.post(
            "http://127.0.0.1:18000/generate", json={"model": "gan_mnist", "seeds": [0, 1]}, timeout=30
        )
        assert r.status_code == 200 and r.content.startswith(b"\x89PNG")
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
