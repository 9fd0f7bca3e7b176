"""A project folder with one tiny trained run of each kind of model, for the serving tests (a
helper module: the fixture that makes it is in tests/serving/conftest.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from ganforge.layout import model_dir
from ganforge.runner import RunPaths, train_run
from tests.project import ROOT, project_env
from tests.runs import tiny_variant

MODELS = (
    "gan_mnist",
    "cgan_mnist",
    "dcgan_emoji64",
    "gan_ring",
    "pix2pix_edges2emoji64",
    "cyclegan_mnist2color",
)


def trained_project(root: Path) -> Path:
    """`root` with one 4-step run (seed 0) of each of MODELS under data/models."""
    for name in MODELS:
        variant, data = tiny_variant(name, steps=4)
        data.meta["data_sha256"] = variant.dataset_sha256
        out = model_dir(root, name, 0)
        paths = RunPaths(
            root / "ckpt" / f"{name}.pt", root / "grids" / name, out, root / "curves" / f"{name}.csv"
        )
        train_run(variant, 0, data, paths, say=lambda _: None)
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(project: Path, *options: str) -> tuple[subprocess.Popen[str], str]:
    """`ganforge serve` on `project` as a real uvicorn process in its own session (stdout and
    stderr piped, text), once `/health` answers; (the process, its base URL)."""
    import httpx

    port = free_port()
    env = project_env(ROOT)
    env["PYTHONPATH"] = f"{ROOT / 'src'}{os.pathsep}{ROOT}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "serve", "--project", str(project), "--port", str(port), *options],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError(proc.communicate()[1] or "the server did not answer /health")
