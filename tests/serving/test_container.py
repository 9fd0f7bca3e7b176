"""The serving image, built and run for real with `scripts/container.sh`: docker where a daemon
answers, else podman with runc (and, where no registry image can be pulled, a local Debian
base made by debootstrap). Skips, saying why, only where neither can run containers."""

from __future__ import annotations

import io
import os
import shutil
import subprocess

import httpx
import pytest
from PIL import Image

from tests.project import ROOT
from tests.served import free_port

SCRIPT = ROOT / "scripts" / "container.sh"
IMAGE = "ganforge:test"
NAME = f"ganforge-test-{os.getpid()}"


def container_engine() -> tuple[str | None, str]:
    """(the engine that can build and run images here, or None; why not)."""
    if shutil.which("docker") and subprocess.run(["docker", "info"], capture_output=True).returncode == 0:
        return "docker", ""
    if shutil.which("podman") is None:
        return None, "neither a Docker daemon nor podman here (.ci/run installs podman, runc, debootstrap)"
    if shutil.which("runc") is None:
        return None, "podman is here but runc is not (apt-get install runc)"
    if subprocess.run(["podman", "info"], capture_output=True).returncode != 0:
        return None, "podman cannot run here (podman info failed)"
    has_base = any(
        subprocess.run(["podman", "image", "exists", image]).returncode == 0
        for image in ("python:3.11-slim", "localhost/ganforge-base:bookworm")
    )
    if not has_base and (shutil.which("debootstrap") is None or os.geteuid() != 0):
        return None, "no base image here and no way to make one (debootstrap as root)"
    return "podman", ""


ENGINE, REASON = container_engine()
needs_engine = pytest.mark.skipif(ENGINE is None, reason=REASON)


def script(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ENGINE": ENGINE or "", "IMAGE": IMAGE, "NAME": NAME}
    result = subprocess.run(
        ["bash", str(SCRIPT), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800
    )
    if check and result.returncode != 0:
        raise AssertionError(f"container.sh {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def engine(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ENGINE or "docker", *args], capture_output=True, text=True, timeout=120)


def test_the_dockerfile_runs_as_a_non_root_user_on_a_chosen_base():
    """What can be checked without an engine: the base is an argument, the user is not root,
    the server is the default command."""
    text = (ROOT / "Dockerfile").read_text()
    assert "ARG BASE_IMAGE=python:3.11-slim\nFROM ${BASE_IMAGE}" in text
    assert "USER ganforge" in text and "ARG TORCH_WHEELS" in text
    assert 'CMD ["ganforge", "serve", "--host", "0.0.0.0"' in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["build", "--base", ""], "error: --base '' is not an image name"),
        (["build", "--base", "Not An/Image"], "error: --base 'Not An/Image' is not an image name"),
        (
            ["build", "--base", "localhost/no-such-base:1"],
            "error: base image localhost/no-such-base:1 is not here",
        ),
        (["run", "/"], "error: / is not a ganforge project (no dvc.yaml and no data/models/)"),
        (["run"], "error: run needs the project folder"),
        (["launch"], "error: unknown command 'launch'"),
    ],
)
@needs_engine
def test_bad_input_is_one_line_and_builds_nothing(args, message):
    result = script(*args, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]  # one line
    assert result.stderr.startswith(message)


@needs_engine
def test_a_busy_port_is_refused_in_one_line(project):
    import socket

    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = script("run", str(project), "--port", str(port), check=False)
    assert result.returncode == 2 and result.stderr.strip() == f"error: port {port} is in use: pass --port"


@pytest.fixture
def readable_project(project, tmp_path_factory):
    """The trained project where the container's user (uid 1000) can read it: pytest's own
    temporary folders are private to root."""
    folder = tmp_path_factory.mktemp("container")
    for parent in (folder, folder.parent, folder.parent.parent):
        parent.chmod(0o755)
    copy = folder / "project"
    shutil.copytree(project, copy)
    copy.chmod(0o755)
    return copy


@needs_engine
def test_the_image_builds_runs_read_only_as_non_root_and_stops_cleanly(readable_project):
    project = readable_project
    built = script("build")
    print(built.stdout.splitlines()[-1])  # "built ... in N s: M MB"
    size = int(engine("image", "inspect", "--format", "{{.Size}}", IMAGE).stdout)
    assert size < 3_000_000_000, f"the image is {size / 1e9:.2f} GB: CPU-only PyTorch keeps it under 3"
    port = free_port()
    script("run", str(project), "--port", str(port))
    try:
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/health", timeout=10).status_code == 200
        listed = {m["variant"] for m in httpx.get(f"{url}/models", timeout=10).json()["models"]}
        assert {"gan_mnist", "dcgan_emoji64"} <= listed
        r = httpx.post(f"{url}/generate", json={"model": "dcgan_emoji64", "seeds": [0, 1]}, timeout=60)
        assert r.status_code == 200 and r.headers["x-request-id"]
        picture = Image.open(io.BytesIO(r.content))
        picture.load()
        assert picture.format == "PNG" and picture.width > 64
        assert (
            httpx.post(f"{url}/generate", json={"model": "nope", "seeds": [0]}, timeout=10).status_code == 404
        )
        assert "ganforge_requests_total" in httpx.get(f"{url}/metrics", timeout=10).text
        assert engine("exec", NAME, "id", "-u").stdout.strip() == "1000"
        if ENGINE == "podman":
            assert engine("healthcheck", "run", NAME).returncode == 0
        write = engine("exec", NAME, "touch", "/project/written-by-the-container")
        assert write.returncode != 0 and "Read-only file system" in write.stderr
        assert not (project / "written-by-the-container").exists()
        stopped = script("stop")
        assert stopped.stdout.strip() == f"stopped {NAME}: exit status 0"  # SIGTERM: a graceful stop
        logs = engine("logs", NAME)
        assert '"route": "/generate"' in logs.stdout + logs.stderr  # the JSON access log
    finally:
        engine("rm", "-f", NAME)
