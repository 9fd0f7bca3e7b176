"""Checkpoints: plain state dicts and tensors, written atomically, loaded with
`weights_only=True` (a checkpoint can never run code)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from ganforge.errors import DataError
from ganforge.io import save_torch

FORMAT_VERSION = 1


def fingerprint(obj: Any) -> str:
    """A stable digest of a JSON-serialisable description (config, seed, data digest)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    save_torch({"format": FORMAT_VERSION, **state}, path)


def load_checkpoint(path: Path) -> dict[str, Any] | None:
    """The checkpoint at `path`, or None when there is none; DataError if it is unreadable."""
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file
        raise DataError(f"checkpoint {path} is unreadable ({exc}); delete it to start over") from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
        raise DataError(f"checkpoint {path} has an unknown format; delete it to start over")
    return state
