"""What the serving tests share: a project folder with one tiny trained run of each kind of
model (trained once per test module)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.served import trained_project


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A project folder holding one tiny trained run of each kind of model."""
    return trained_project(tmp_path_factory.mktemp("served"))
