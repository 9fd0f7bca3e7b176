"""`--checkpoint best|final` for the tools and the server: final by default, best where the
run was scored during training, one line where it was not."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ganforge.core.errors import ConfigError
from ganforge.layout import model_dir
from ganforge.runner import RunPaths, train_run
from ganforge.serving.api import ServeSettings, create_app
from ganforge.serving.catalog import Catalog
from pipeline.cli import app
from tests.runs import tiny_variant


class ScriptedScores:
    """An evaluator whose validation scores are given: best at step 8 of 12."""

    def __init__(self) -> None:
        self.values = iter([5.0, 3.0, 1.0, 2.0])

    def reference_count(self) -> None:
        return None

    def validation_scores(self, payload, seed) -> dict[str, float]:
        return {"domain.fd": next(self.values)}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("checkpoints")
    scored, data = tiny_variant("dcgan_anime", steps=12, eval_every=4, eval_samples=8, checkpoint_every=4)
    plain, plain_data = tiny_variant("gan_mnist", steps=4)
    for variant, d, evaluator in ((scored, data, ScriptedScores()), (plain, plain_data, None)):
        d.meta["data_sha256"] = variant.dataset_sha256
        work = root / "work" / variant.name
        paths = RunPaths(work / "c.pt", work / "g", model_dir(root, variant.name, 0), work / "c.csv")
        train_run(variant, 0, d, paths, say=lambda m: None, evaluator=evaluator)  # type: ignore[arg-type]
    (root / "dvc.yaml").write_text("stages: {}\n")
    return root


def test_the_catalog_serves_final_by_default_and_best_when_asked(project):
    final = Catalog(project).get("dcgan_anime")
    best = Catalog(project, checkpoint="best").get("dcgan_anime")
    assert final.trained.info["steps"] == 12 and best.trained.info["steps"] == 8
    assert best.trained.info["selected"]["metric"] == "domain.fd"
    a, b = (m.decode(m.latents([0, 1])) for m in (final, best))
    assert a.shape == b.shape and not torch.equal(a, b)
    assert set(Catalog(project, checkpoint="best").runs()) == {"dcgan_anime"}


def test_best_for_a_run_trained_without_scores_is_one_line(project):
    with pytest.raises(
        ConfigError, match=r"^gan_mnist has no best checkpoint: it was trained without scores"
    ):
        Catalog(project, checkpoint="best").get("gan_mnist")
    with pytest.raises(ConfigError, match=r"^unknown checkpoint 'latest'; known: final, best$"):
        Catalog(project, checkpoint="latest")


def test_generate_takes_checkpoint_best_and_refuses_it_in_one_line(project, tmp_path):
    runner = CliRunner()
    args = ["generate", "dcgan_anime", "--seeds", "0-1", "--project", str(project)]
    done = runner.invoke(app, [*args, "--out", str(tmp_path / "best"), "--checkpoint", "best"])
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in (tmp_path / "best").glob("*.png")) == ["seed0000.png", "seed0001.png"]
    refused = runner.invoke(
        app, ["generate", "gan_mnist", "--seeds", "0", "--project", str(project), "--out", str(tmp_path / "x"),
              "--checkpoint", "best"],
    )  # fmt: skip
    assert refused.exit_code == 1 and not (tmp_path / "x").exists()
    assert refused.output.strip().startswith("error: gan_mnist has no best checkpoint")
    assert len(refused.output.strip().splitlines()) == 1


def test_the_server_serves_the_checkpoint_it_was_started_with(project):
    best = TestClient(create_app(ServeSettings(project=project, checkpoint="best")))
    final = TestClient(create_app(ServeSettings(project=project)))
    body = {"model": "dcgan_anime", "seeds": [0, 1]}
    a, b = best.post("/generate", json=body), final.post("/generate", json=body)
    assert a.status_code == b.status_code == 200 and a.content != b.content
    missing = best.post("/generate", json={"model": "gan_mnist", "seeds": [0]})
    assert missing.status_code == 400 and "has no best checkpoint" in missing.json()["detail"]
    assert [m["variant"] for m in best.get("/models").json()["models"]] == ["dcgan_anime"]
