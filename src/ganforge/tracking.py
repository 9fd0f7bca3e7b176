"""Experiment tracking and the model registry: the only module that imports mlflow. Metrics are
buffered and sent in batches (one call per value costs milliseconds); the SQLite store is
created once, under a file lock, so parallel runs do not race on its schema. Callers get
plain values and ganforge's own errors, never MLflow's objects."""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ganforge.core.io import write_json

_BATCH = 900  # MLflow accepts up to 1000 metrics per log_batch call
_PARAM_BATCH = 100


@dataclass(frozen=True)
class DatasetRecord:
    """What a run trained on, as an MLflow dataset input: `digest` identifies the data's
    content (a prefix of its fingerprint; MLflow keeps 36 characters), `source` says where it
    came from, `profile` holds the rest (the whole fingerprint, counts, the stand-in flag)."""

    name: str
    digest: str
    source: Mapping[str, Any]
    schema: Mapping[str, Any]
    profile: Mapping[str, Any]
    context: str = "training"


class Tracker(Protocol):
    run_id: str | None

    def log_params(self, params: Mapping[str, Any]) -> None: ...

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None: ...

    def log_artifact(self, path: Path, folder: str | None = None) -> None: ...

    def set_tags(self, tags: Mapping[str, str]) -> None: ...

    def log_dataset(self, dataset: DatasetRecord) -> None: ...

    def close(self, status: str = "FINISHED", end_ms: int | None = None) -> None: ...


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

    def log_dataset(self, dataset: DatasetRecord) -> None:
        pass

    def close(self, status: str = "FINISHED", end_ms: int | None = None) -> None:
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
def store_lock(uri: str) -> Iterator[None]:
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
    with store_lock(uri):  # the first client call creates the schema
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
    """One MLflow run. With `run_id`, the run is reopened (a resumed training run); a new run
    starts at `start_ms` (Unix milliseconds; now when None). Pass the `client` (and
    `experiment_id`) of an earlier tracker on the same store to skip building a new one
    (about a second each)."""

    def __init__(
        self,
        uri: str,
        experiment: str,
        run_name: str,
        tags: Mapping[str, str] | None = None,
        run_id: str | None = None,
        client: Any = None,
        experiment_id: str | None = None,
        start_ms: int | None = None,
    ) -> None:
        from mlflow.tracking import MlflowClient

        self.client = client if client is not None else MlflowClient(tracking_uri=uri)
        exp_id = experiment_id or open_experiment(self.client, uri, experiment)
        self.run_id = (
            self._reopen(run_id)
            or self.client.create_run(
                exp_id, start_time=start_ms, run_name=run_name, tags=dict(tags or {})
            ).info.run_id
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

    def log_dataset(self, dataset: DatasetRecord) -> None:
        from mlflow.entities import Dataset, DatasetInput, InputTag

        entity = Dataset(
            name=dataset.name,
            digest=dataset.digest[:36],
            source_type="ganforge",
            source=json.dumps(dict(dataset.source), sort_keys=True),
            schema=json.dumps(dict(dataset.schema), sort_keys=True),
            profile=json.dumps(dict(dataset.profile), sort_keys=True),
        )
        tags = [InputTag("mlflow.data.context", dataset.context)]
        self.client.log_inputs(self.run_id, datasets=[DatasetInput(entity, tags)])

    def close(self, status: str = "FINISHED", end_ms: int | None = None) -> None:
        """End the run with `status`, at `end_ms` (Unix milliseconds; now when None)."""
        self.flush()
        self.client.set_terminated(self.run_id, status, end_time=end_ms)


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

    def tracker(
        self,
        run_name: str,
        tags: Mapping[str, str],
        run_id: str | None = None,
        start_ms: int | None = None,
    ) -> MlflowTracker:
        return MlflowTracker(
            self.uri,
            self.experiment,
            run_name,
            tags,
            run_id,
            client=self.client,
            experiment_id=self.experiment_id,
            start_ms=start_ms,
        )

    def delete(self, run_id: str) -> None:
        self.client.delete_run(run_id)

    def experiment_tags(self) -> dict[str, str]:
        return dict(self.client.get_experiment(self.experiment_id).tags)


class NotRegisteredError(LookupError):
    """A registered model or version the registry does not hold."""


@dataclass(frozen=True)
class RegisteredVersion:
    """One version of a registered model: its number, the run it came from and its tags."""

    name: str
    version: int
    run_id: str | None
    tags: Mapping[str, str]


class ModelRegistry:
    """MLflow's model registry on a store: list, register and download model versions, and
    write the pyfunc folder of a model that a `loader_module` loads."""

    def __init__(self, uri: str) -> None:
        from mlflow.tracking import MlflowClient

        self.uri = uri
        self.client = MlflowClient(tracking_uri=uri, registry_uri=uri)

    def names(self) -> list[str]:
        """Every registered model's name, sorted (NotRegisteredError when it cannot be listed)."""
        from mlflow.exceptions import MlflowException

        try:
            return sorted(m.name for m in self.client.search_registered_models())
        except MlflowException:
            raise NotRegisteredError("the registry could not be listed") from None

    def versions(self, name: str) -> list[RegisteredVersion]:
        """The versions of `name` (none when it is not registered)."""
        from mlflow.exceptions import MlflowException

        try:
            found = self.client.search_model_versions(f"name = '{name}'")
        except MlflowException:
            return []
        return sorted(
            (RegisteredVersion(v.name, int(v.version), v.run_id, dict(v.tags)) for v in found),
            key=lambda v: v.version,
        )

    def ensure(self, name: str, description: str) -> None:
        """Register the name `name` if it is not yet."""
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(name)
        except MlflowException:
            self.client.create_registered_model(name, description=description)

    def register(self, name: str, run_id: str, folder: Path, tags: Mapping[str, str]) -> None:
        """A new version of `name`: the model folder is uploaded into the run's artifacts
        (under the folder's name) and registered from there."""
        self.client.log_artifacts(run_id, str(folder), folder.name)
        source = f"{self.client.get_run(run_id).info.artifact_uri}/{folder.name}"
        self.client.create_model_version(name, source, run_id=run_id, tags=dict(tags))

    def download(self, name: str, version: int, folder: str) -> tuple[RegisteredVersion, Path | None]:
        """Version `version` of `name` and a local copy of its run's artifact `folder` (None
        when the version has no run); NotRegisteredError when the registry lacks it."""
        from mlflow.exceptions import MlflowException

        try:
            mv = self.client.get_model_version(name, str(version))
            local = Path(self.client.download_artifacts(mv.run_id, folder)) if mv.run_id else None
        except MlflowException:
            raise NotRegisteredError(f"{name} version {version}") from None
        return RegisteredVersion(mv.name, int(mv.version), mv.run_id, dict(mv.tags)), local


def save_pyfunc_model(folder: Path, loader_module: str, data: Path, requirements: list[str]) -> Path:
    """An MLflow pyfunc model folder (MLmodel, environment files, the data) whose predictions
    come from `loader_module`'s `_load_pyfunc(data_path)`."""
    import mlflow.pyfunc

    mlflow.pyfunc.save_model(
        path=str(folder), loader_module=loader_module, data_path=str(data), pip_requirements=requirements
    )
    return folder
