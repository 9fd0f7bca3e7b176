from __future__ import annotations

from pathlib import Path

import pytest

from ganforge.data.fetch import SourceContext


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
