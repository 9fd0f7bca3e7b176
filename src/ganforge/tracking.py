"""Experiment tracking: the only module that imports mlflow. Metrics are buffered and sent in
batches (one call per value costs milliseconds); the SQLite store is created once, under a
file lock, so parallel runs do not race on its schema."""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import re
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

from ganforge.io import write_json

_BATCH = 900  # MLflow accepts up to 1000 metrics per log_batch call
_PARAM_BATCH = 100


class Tracker(Protocol):
    run_id: str | None

    def log_params(self, params: Mapping[str, Any]) -> None: ...

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None: ...

    def log_artifact(self, path: Path, folder: str | None = None) -> None: ...

    def set_tags(self, tags: Mapping[str, str]) -> None: ...

    def close(self, status: str = "FINISHED") -> None: ...


class NullTracker:
    """Tracks nothing (tests, notebooks)."""

    run_id: str | None = None

    def log_params(self, params: Mapping[str, Any]) -> None:
        pass

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        pass

    def log_artifact(self, path: Path, folder: str | None = None) -> None:
        pass

    def set_tags(self, tags: Mapping[str, str]) -> None:
        pass

    def close(self, status: str = "FINISHED") -> None:
        pass


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested params as dotted keys (`train.lr`), values as strings."""
    out: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = str(value)
    return out


_NOT_IN_A_NAME = re.compile(r"[^A-Za-z0-9_\-. :/]")


def metric_name(key: str) -> str:
    """`key` with every character MLflow refuses in a metric name (class names such as
    "Animals & Nature" bring them) replaced by `_`."""
    return _NOT_IN_A_NAME.sub("_", key)


def numeric_leaves(tree: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """The finite numbers of a nested mapping, under dotted keys (for metrics)."""
    out: dict[str, float] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(numeric_leaves(value, f"{name}."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            out[name] = float(value)
    return out


def default_uri(root: Path) -> str:
    """MLFLOW_TRACKING_URI if set, else a SQLite store at the project root (for queued DVC
    experiments, DVC_ROOT names the parent project, so every run lands in one store)."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    base = Path(os.environ.get("DVC_ROOT") or root).resolve()
    return f"sqlite:///{base / 'mlflow.db'}"


def artifact_root(uri: str) -> str | None:
    """Artifacts of a SQLite store live beside it, in mlartifacts/."""
    if uri.startswith("sqlite:///"):
        return (Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts").as_uri()
    return None


@contextlib.contextmanager
def _store_lock(uri: str) -> Iterator[None]:
    """Serialise store creation between processes (SQLite stores only)."""
    if not uri.startswith("sqlite:///"):
        yield
        return
    lock = Path(uri.removeprefix("sqlite:///") + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"  # the UI opens such an experiment on its runs table


def open_experiment(client: Any, uri: str, name: str) -> str:
    """The id of experiment `name` (created, or restored if it was deleted), tagged as model
    development so the MLflow UI opens it on its runs table."""
    with _store_lock(uri):  # the first client call creates the schema
        exp = client.get_experiment_by_name(name)
        if exp is None:
            return str(
                client.create_experiment(
                    name, artifact_location=artifact_root(uri), tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND}
                )
            )
        if exp.lifecycle_stage != "active":
            client.restore_experiment(exp.experiment_id)
        if exp.tags.get(EXPERIMENT_KIND_TAG) != EXPERIMENT_KIND:
            client.set_experiment_tag(exp.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
        return str(exp.experiment_id)


class MlflowTracker:
    """One MLflow run. With `run_id`, the run is reopened (a resumed training run). Pass the
    `client` (and `experiment_id`) of an earlier tracker on the same store to skip building a
    new one (about a second each)."""

    def __init__(
        self,
        uri: str,
        experiment: str,
        run_name: str,
        tags: Mapping[str, str] | None = None,
        run_id: str | None = None,
        client: Any = None,
        experiment_id: str | None = None,
    ) -> None:
        from mlflow.tracking import MlflowClient

        self.client = client if client is not None else MlflowClient(tracking_uri=uri)
        exp_id = experiment_id or open_experiment(self.client, uri, experiment)
        self.run_id = (
            self._reopen(run_id)
            or self.client.create_run(exp_id, run_name=run_name, tags=dict(tags or {})).info.run_id
        )
        self._pending: list[Any] = []

    def _reopen(self, run_id: str | None) -> str | None:
        if not run_id:
            return None
        from mlflow.exceptions import MlflowException

        try:
            run = self.client.get_run(run_id)
        except MlflowException:
            return None
        if run.info.lifecycle_stage != "active":
            return None
        self.client.update_run(run_id, status="RUNNING")
        return run_id

    def log_params(self, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        existing = self.client.get_run(self.run_id).data.params
        items = [Param(k, v[:6000]) for k, v in flatten(params).items() if k not in existing]
        for i in range(0, len(items), _PARAM_BATCH):
            self.client.log_batch(self.run_id, params=items[i : i + _PARAM_BATCH])

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self._pending += [Metric(metric_name(k), float(v), now, step) for k, v in metrics.items()]
        if len(self._pending) >= _BATCH:
            self.flush()

    def flush(self) -> None:
        while self._pending:
            chunk, self._pending = self._pending[:_BATCH], self._pending[_BATCH:]
            self.client.log_batch(self.run_id, metrics=chunk)

    def log_artifact(self, path: Path, folder: str | None = None) -> None:
        self.client.log_artifact(self.run_id, str(path), folder)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(self.run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def close(self, status: str = "FINISHED") -> None:
        self.flush()
        self.client.set_terminated(self.run_id, status)


class RunIdSidecar:
    """A small JSON beside a run's working checkpoint naming its MLflow run, so a resumed
    run logs into the same MLflow run (only while the checkpoint's fingerprint matches)."""

    def __init__(self, path: Path, fingerprint: str) -> None:
        self.path, self.fingerprint = path, fingerprint

    def run_id(self) -> str | None:
        if not self.path.is_file():
            return None
        data = json.loads(self.path.read_text(encoding="utf-8"))
        return data.get("mlflow_run_id") if data.get("fingerprint") == self.fingerprint else None

    def save(self, run_id: str | None) -> None:
        write_json(self.path, {"fingerprint": self.fingerprint, "mlflow_run_id": run_id})


class StoredRun:
    """A run found in the store: its id, name and tags."""

    def __init__(self, run_id: str, name: str, tags: Mapping[str, str]) -> None:
        self.run_id, self.name, self.tags = run_id, name, dict(tags)


class MlflowStore:
    """One experiment of an MLflow store, for keeping it in step with DVC's artifacts: list
    its active runs, open a tracker on a new or existing run, delete a run."""

    def __init__(self, uri: str, experiment: str) -> None:
        from mlflow.tracking import MlflowClient

        self.uri = uri
        self.client = MlflowClient(tracking_uri=uri)
        self.experiment = experiment
        self.experiment_id = open_experiment(self.client, uri, experiment)

    def runs(self) -> list[StoredRun]:
        """Every active run of the experiment."""
        out, token = [], None
        while True:
            page = self.client.search_runs([self.experiment_id], max_results=1000, page_token=token)
            out += [StoredRun(r.info.run_id, r.info.run_name or "", r.data.tags) for r in page]
            token = page.token
            if not token:
                return out

    def tracker(self, run_name: str, tags: Mapping[str, str], run_id: str | None = None) -> MlflowTracker:
        return MlflowTracker(
            self.uri,
            self.experiment,
            run_name,
            tags,
            run_id,
            client=self.client,
            experiment_id=self.experiment_id,
        )

    def delete(self, run_id: str) -> None:
        self.client.delete_run(run_id)

    def experiment_tags(self) -> dict[str, str]:
        return dict(self.client.get_experiment(self.experiment_id).tags)
