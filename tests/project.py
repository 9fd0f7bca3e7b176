"""A throw-away copy of the project for tests that drive the real CLI and DVC."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT_FILES = ("src", "pipeline", "conf", "dvc.yaml", "params.yaml", ".dvcignore", "pyproject.toml")


def copy_project(target: Path) -> Path:
    """Copy the code, configuration and DVC set-up (no data, no outputs) to `target`."""
    target.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in PROJECT_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, target / name, ignore=ignore)
        else:
            shutil.copy2(src, target / name)
    (target / ".dvc").mkdir()
    shutil.copy2(ROOT / ".dvc" / "config", target / ".dvc" / "config")
    shutil.copy2(ROOT / ".gitignore", target / ".gitignore")
    return target


def project_env(project: Path, **extra: str) -> dict[str, str]:
    """Environment in which `python`, `dvc` and the copy's own code are found. Of the
    developer's GANFORGE_ settings only the machine's bf16 switch passes (so
    `GANFORGE_CPU_BF16=off make test` checks the fp32 path end to end)."""
    keep = {"GANFORGE_CPU_BF16"}
    env = {
        k: v for k, v in os.environ.items() if k in keep or not k.startswith(("GANFORGE_", "DVC_", "MLFLOW_"))
    }
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = f"{project / 'src'}{os.pathsep}{project}"
    env["TORCH_HOME"] = str(project / ".torch")  # hermetic: no Inception weights from the machine
    # DVC keeps per-repository state (file hashes, the data index, what a remote holds) in a
    # site cache keyed by the repository's path. Test projects and remotes reappear at the same
    # temporary paths run after run, and a stale "the remote has it" made `dvc push` skip
    # objects: each project gets a site cache of its own, beside it.
    env["DVC_SITE_CACHE_DIR"] = str(project.parent / f".{project.name}.dvc-site")
    env.pop("GANFORGE_INCEPTION_WEIGHTS", None)
    env["GIT_AUTHOR_NAME"] = env["GIT_COMMITTER_NAME"] = "ganforge tests"
    env["GIT_AUTHOR_EMAIL"] = env["GIT_COMMITTER_EMAIL"] = "tests@ganforge.invalid"
    env.update(extra)
    return env


def run(
    args: list[str], project: Path, env: dict[str, str], check: bool = True, timeout: float = 900
) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=project, env=env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def git_commit_all(project: Path, env: dict[str, str]) -> None:
    run(["git", "init", "-q", "-b", "main"], project, env)
    run(["git", "add", "-A"], project, env)
    run(["git", "commit", "-q", "-m", "test project"], project, env)
