"""Checkpoints: plain state dicts and tensors, written atomically, loaded with
`weights_only=True` (a checkpoint can never run code)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from ganforge.core.errors import DataError
from ganforge.core.io import save_torch

FORMAT_VERSION = 2


def fingerprint(obj: Any) -> str:
    """A stable digest of a JSON-serialisable description (config, seed, data digest)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    save_torch({"format": FORMAT_VERSION, **state}, path)


def load_checkpoint(path: Path) -> tuple[dict[str, Any] | None, str]:
    """The checkpoint at `path` and "", or None and why it is not resumed ("" when there is
    none; a checkpoint of an older format version is not resumed). DataError for a file that
    cannot be read at all (truncated, foreign): it is left alone for the user to look at."""
    if not path.is_file():
        return None, ""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file
        raise DataError(
            f"checkpoint {path} is unreadable ({str(exc)[:120]}); delete it to start over"
        ) from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
        return None, f"checkpoint {path} has another format (not version {FORMAT_VERSION})"
    return state, ""
