"""The CLI: one-line errors without tracebacks, no partial output, and the params composer."""

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from tests.builders import build_mirror
from tests.project import ROOT, copy_project

runner = CliRunner()


@pytest.fixture
def project(tmp_path, monkeypatch):
    path = copy_project(tmp_path / "project")
    monkeypatch.chdir(path)
    return path


def test_help_lists_the_stage_commands():
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "--help"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "prepare" in result.stdout and "params" in result.stdout


def test_unknown_dataset(project):
    result = runner.invoke(app, ["prepare", "imagenet"])
    assert result.exit_code == 1
    assert result.output.strip().startswith(
        "error: unknown dataset 'imagenet'; known datasets: anime, celeba, cifar10, cifar100, circle"
    )
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_offline_without_mirror_fails_cleanly(project, monkeypatch):
    monkeypatch.setenv("GANFORGE_OFFLINE", "1")
    result = runner.invoke(app, ["prepare", "mnist"])
    assert result.exit_code == 1
    assert "cannot find t10k-images-idx3-ubyte.gz: no data mirror is set" in result.output
    assert not (project / "data" / "prepared").exists() or not list((project / "data" / "prepared").iterdir())


def test_mirror_that_is_not_a_folder(project, monkeypatch):
    monkeypatch.setenv("GANFORGE_DATA_MIRROR", str(project / "nowhere"))
    result = runner.invoke(app, ["prepare", "ring"])
    assert (
        result.exit_code == 1
        and "GANFORGE_DATA_MIRROR=" in result.output
        and "is not a folder" in result.output
    )


def test_bad_params_value(project):
    text = (
        (project / "params.yaml")
        .read_text()
        .replace("    shape: ring\n    count: 20000", "    shape: ring\n    count: -5")
    )
    (project / "params.yaml").write_text(text)
    result = runner.invoke(app, ["prepare", "ring"])
    assert result.exit_code == 1
    assert result.output.strip() == "error: datasets.ring: count must be positive, got -5"


def test_prepare_from_a_mirror(project, tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_DATA_MIRROR", str(build_mirror(tmp_path / "mirror")))
    text = (project / "params.yaml").read_text().replace("verify_checksums: true", "verify_checksums: false")
    (project / "params.yaml").write_text(text)
    result = runner.invoke(app, ["prepare", "emoji64"])
    assert result.exit_code == 0, result.output
    assert "prepared emoji64: 96 examples [images 3×32×32], 3 classes (stand-in for anime)" in result.output
    assert sorted(p.name for p in (project / "data" / "prepared").iterdir()) == ["emoji64.json", "emoji64.pt"]


def test_committed_params_match_conf():
    """params.yaml is what `dvc exp run` would compose from conf/ with the default profile."""
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "params", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_params_composes_profiles_and_overrides(project):
    result = runner.invoke(app, ["params", "profile=smoke", "datasets.ring.count=123"])
    assert result.exit_code == 0, result.output
    text = (project / "params.yaml").read_text()
    assert "profile: smoke" in text and "count: 123" in text and "limit: 512" in text
    bad = runner.invoke(app, ["params", "profile=huge"])
    assert bad.exit_code == 1 and "error: cannot compose" in bad.output and "huge" in bad.output


@pytest.mark.parametrize("seed", ["-3", "7"])
def test_a_seed_outside_the_profile_is_refused_and_nothing_is_written(project, seed):
    before = sorted(p for p in project.rglob("*") if p.is_file())
    result = runner.invoke(app, ["train", "gan_mnist", "--seed", seed])
    assert result.exit_code == 1, result.output
    assert (
        result.output.strip() == f"error: seed {seed} is not one of the profile's seeds (run.seeds: 0, 1, 2)"
    )
    assert sorted(p for p in project.rglob("*") if p.is_file()) == before


def test_run_seeds_must_be_non_negative_integers():
    from ganforge.core.errors import ConfigError
    from pipeline.params import chosen_seeds

    assert chosen_seeds({"run": {"seeds": [0, 1, 2]}}, None) == [0, 1, 2]
    assert chosen_seeds({"run": {"seeds": [0, 1, 2]}}, 1) == [1]
    for bad in ([-1], ["1"], [True], [0.5]):
        with pytest.raises(ConfigError, match=r"run\.seeds must be non-negative integers"):
            chosen_seeds({"run": {"seeds": bad}}, None)
    with pytest.raises(ConfigError, match=r"run\.seeds is empty"):
        chosen_seeds({"run": {"seeds": []}}, None)
