"""The MLflow mirror against a real SQLite store: a training run spans its training's own start
and end and names its dataset as an input; mirroring twice changes nothing."""

import json

import pytest

from ganforge.core.io import unix_ms
from ganforge.mirror import (
    FINGERPRINT_TAG,
    LIVE_TAG,
    RECORD_TAG,
    common_tags,
    dataset_record,
    mirror,
    run_tags,
    training_record,
)
from ganforge.tracking import MlflowStore

META = {
    "dataset": "emoji64",
    "data_sha256": "66879f5b66baec23fc4ec8eb2614135571930528cd36a8a4d8ffd3fb8a2aa96e",
    "examples": 3655,
    "kind": "images",
    "image_size": 32,
    "source": "image folder (mirror: emoji64)",
    "stand_in": True,
    "stand_in_for": "anime",
    "tensors": {"images": {"dtype": "uint8", "shape": [3655, 3, 32, 32]}},
}


def a_run(tmp_path, started="2026-12-01T10:00:00.000Z", finished="2026-12-01T10:04:30.500Z"):
    curves = tmp_path / "curves.csv"
    curves.write_text("step,d_loss,g_loss\n1,1.5,0.7\n2,1.25,0.75\n", encoding="utf-8")
    generator = tmp_path / "generator.pt"
    generator.write_bytes(b"weights")
    training = {"seed": 0, "fingerprint": "f" * 64, "steps": 2, "started": started, "finished": finished}
    tags = run_tags("dcgan_emoji64", "gan", "emoji64", 0, True, common_tags("quick", "abc123", None))
    config = {"name": "dcgan_emoji64", "dataset": "emoji64"}
    metrics = {"generators": {"ema": {"fd": 12.5}}}
    data = dataset_record(META, "data/prepared/emoji64.pt")
    return training_record(config, training, metrics, curves, [(generator, "model")], tags, data)


@pytest.mark.filterwarnings("ignore")
def test_a_mirrored_run_spans_its_training_and_names_its_dataset_once(tmp_path):
    store = MlflowStore(f"sqlite:///{tmp_path}/mlflow.db", "tests")
    run = a_run(tmp_path)
    assert mirror(store, [run]).created == 1
    (stored,) = store.runs()
    info = store.client.get_run(stored.run_id)
    assert info.info.start_time == unix_ms("2026-12-01T10:00:00.000Z")
    assert info.info.end_time - info.info.start_time == 270_500  # 4 min 30.5 s, as trained
    (given,) = info.inputs.dataset_inputs
    assert given.dataset.name == "emoji64" and given.dataset.digest == META["data_sha256"][:16]
    assert {t.key: t.value for t in given.tags} == {"mlflow.data.context": "training"}
    profile = json.loads(given.dataset.profile)
    assert profile["data_sha256"] == META["data_sha256"] and profile["stand_in_for"] == "anime"
    assert json.loads(given.dataset.source)["prepared"] == "data/prepared/emoji64.pt"
    again = mirror(store, [a_run(tmp_path)])
    assert (again.created, again.replaced, again.unchanged) == (0, 0, 1)
    assert len(store.client.get_run(stored.run_id).inputs.dataset_inputs) == 1
    retrained = mirror(store, [a_run(tmp_path, finished="2026-12-01T10:05:00.000Z")])
    assert retrained.replaced == 1  # another training of the same configuration: a new run


@pytest.mark.filterwarnings("ignore")
def test_a_live_run_is_completed_at_its_training_end_with_its_dataset(tmp_path):
    store = MlflowStore(f"sqlite:///{tmp_path}/mlflow.db", "tests")
    run = a_run(tmp_path)
    live = store.tracker(run.name, {**run.tags, RECORD_TAG: "run", LIVE_TAG: "true"})
    assert live.client.get_run(live.run_id).data.tags[FINGERPRINT_TAG] == run.key
    started = live.client.get_run(live.run_id).info.start_time
    assert mirror(store, [run]).completed == 1
    info = store.client.get_run(live.run_id)
    assert info.info.start_time == started and info.info.status == "FINISHED"
    assert info.info.end_time == run.end_ms
    assert [d.dataset.name for d in info.inputs.dataset_inputs] == ["emoji64"]
