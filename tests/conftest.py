from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from ganforge.data.fetch import SourceContext


def pytest_configure(config: pytest.Config) -> None:
    """Under `pytest -n N` each worker, and every process it launches (the DVC stages of the
    end-to-end tests), computes on cores // N threads. torch's default, every core per process,
    oversubscribes the machine: OpenMP threads spin waiting for cores that other processes hold
    (benchmarks/thread_oversubscription.py measures what that costs: several times the time).
    A thread count the user set wins. Scores do not depend on it beyond a seed's spread
    (tests/smoke_expectation.py measures that), and no test compares bits across processes
    that could disagree on it: they all inherit this setting."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if workers < 2 or "OMP_NUM_THREADS" in os.environ:
        return
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = threads
    import torch

    torch.set_num_threads(int(threads))


@pytest.fixture
def ctx_factory(tmp_path: Path):
    """Build a SourceContext rooted in tmp_path (offline by default: no test touches the network)."""

    def make(name: str = "ds", mirror: Path | None = None, **kwargs) -> SourceContext:
        options = {"offline": True, "verify_checksums": False, **kwargs}
        return SourceContext(
            name=name, raw_dir=tmp_path / "raw", prepared_dir=tmp_path / "prepared", mirror=mirror, **options
        )

    return make


@pytest.fixture(autouse=True)
def _no_mirror_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's mirror or offline settings."""
    monkeypatch.delenv("GANFORGE_DATA_MIRROR", raising=False)
    monkeypatch.delenv("GANFORGE_OFFLINE", raising=False)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`make test` runs `pytest -n 2 --dist loadfile`: each file stays on one worker (the tests
    of an end-to-end module share one project), and the two end-to-end files, the slow part,
    start first, one on each worker, so that they run side by side while the unit tests fill
    in around them."""
    if config.getoption("dist", None) != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class EndToEndFirst(LoadFileScheduling):
        def _assign_work_unit(self, node: Any) -> None:
            first = next((s for s in self.workqueue if s.rsplit("/", 1)[-1].startswith("test_e2e")), None)
            if first is not None:
                self.workqueue.move_to_end(first, last=False)
            super()._assign_work_unit(node)

    return EndToEndFirst(config, log)
