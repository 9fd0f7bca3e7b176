"""A variant as the `configure` stage resolved it, for the stages after it."""

from __future__ import annotations

import json
from pathlib import Path

from ganforge.core.errors import MissingDataError
from ganforge.layout import config_path
from ganforge.systems.registry import SYSTEM_OPTIONS
from ganforge.variants import Variant, variant_from_json


def load_variant(root: Path, name: str) -> Variant:
    """A variant as the configure stage resolved it (`data/configs/<name>.json`)."""
    path = config_path(root, name)
    if not path.is_file():
        raise MissingDataError(f"{path} not found: run `dvc repro configure` (is {name} in run.variants?)")
    return variant_from_json(json.loads(path.read_text(encoding="utf-8")), str(path), table=SYSTEM_OPTIONS)
