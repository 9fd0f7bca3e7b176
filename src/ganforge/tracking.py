"""Experiment tracking: the only module that imports mlflow. Metrics are buffered and sent in
batches (one call per value costs milliseconds); the SQLite store is created once, under a
file lock, so parallel runs do not race on its schema."""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import re
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

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


class MlflowTracker:
    """One MLflow run. With `run_id`, the run is reopened (a resumed training run). Pass the
    `client` of an earlier tracker on the same store to skip building a new one (about a
    second each)."""

    def __init__(
        self,
        uri: str,
        experiment: str,
        run_name: str,
        tags: Mapping[str, str] | None = None,
        run_id: str | None = None,
        client: Any = None,
    ) -> None:
        from mlflow.tracking import MlflowClient

        self.client = client if client is not None else MlflowClient(tracking_uri=uri)
        with _store_lock(uri):  # the first client call creates the schema
            exp = self.client.get_experiment_by_name(experiment)
            exp_id = (
                exp.experiment_id
                if exp
                else self.client.create_experiment(experiment, artifact_location=artifact_root(uri))
            )
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
