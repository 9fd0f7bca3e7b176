"""MLflow tracking against a real SQLite store in a temporary folder."""

import pytest

from ganforge.tracking import MlflowTracker, artifact_root, default_uri, flatten, metric_name


def test_default_uri_is_a_sqlite_store_at_the_root(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    assert default_uri(tmp_path) == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    monkeypatch.setenv("DVC_ROOT", "/somewhere/else")
    assert default_uri(tmp_path) == "sqlite:////somewhere/else/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking:5000")
    assert default_uri(tmp_path) == "http://tracking:5000"
    assert artifact_root("sqlite:////a/b/mlflow.db") == "file:///a/b/mlartifacts"


def test_flatten():
    assert flatten({"train": {"lr": 0.1, "betas": [0.5, 0.9]}, "seed": 3}) == {
        "train.lr": "0.1",
        "train.betas": "[0.5, 0.9]",
        "seed": "3",
    }


@pytest.mark.filterwarnings("ignore")
def test_run_with_batched_metrics_params_artifacts_and_reopen(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    tracker = MlflowTracker(uri, "tests", "run-a", {"variant": "gan_mnist"})
    tracker.log_params({"train": {"lr": 0.0002}, "seed": 0})
    for step in range(1, 1201):  # more than one batch
        tracker.log_metrics({"d_loss": 1.0 / step, "g_loss": float(step)}, step)
    (tmp_path / "grid.png").write_bytes(b"\x89PNG fake")
    tracker.log_artifact(tmp_path / "grid.png", "grids")
    tracker.log_metrics({"score.classes.class_histogram.Animals & Nature": 0.25}, 1200)
    tracker.close()

    again = MlflowTracker(uri, "tests", "run-a", run_id=tracker.run_id, client=tracker.client)
    assert again.run_id == tracker.run_id and again.client is tracker.client
    again.log_params({"train": {"lr": 0.0002}, "seed": 0})  # already there: not re-sent
    again.close()
    run = again.client.get_run(tracker.run_id)
    assert run.data.tags["variant"] == "gan_mnist" and run.data.params["train.lr"] == "0.0002"
    history = again.client.get_metric_history(tracker.run_id, "d_loss")
    assert len(history) == 1200 and run.info.status == "FINISHED"
    assert [a.path for a in again.client.list_artifacts(tracker.run_id, "grids")] == ["grids/grid.png"]
    assert (tmp_path / "mlartifacts").is_dir()
    assert run.data.metrics["score.classes.class_histogram.Animals _ Nature"] == 0.25


def test_metric_names_keep_what_mlflow_allows():
    assert metric_name("score.ema/domain.fd: x-1_y") == "score.ema/domain.fd: x-1_y"
    assert metric_name("hist.Smileys & Emotion (1)") == "hist.Smileys _ Emotion _1_"
