"""Turning plain dicts (from YAML, JSON or a notebook) into the library's typed config
dataclasses, with one-line errors that name the offending key."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from functools import cache
from typing import Any, TypeVar, get_type_hints

from pydantic import TypeAdapter, ValidationError

from ganforge.core.errors import ConfigError

T = TypeVar("T")


@cache
def _adapter(cls: type) -> TypeAdapter[Any]:
    return TypeAdapter(cls)


def field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def from_dict(cls: type[T], data: Mapping[str, Any] | None, where: str) -> T:
    """Build config dataclass `cls` from `data`; ConfigError naming `where` on any problem:
    an unknown key (the known ones are listed), a wrong type or a value out of range."""
    data = dict(data or {})
    check_keys(cls, data, where)
    try:
        return _adapter(cls).validate_python(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, where)) from None


def check_limit(limit: int | None) -> None:
    """A `limit` is None (everything) or a count of 0 or more."""
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be 0 or more, got {limit}")


def check_keys(cls: type, data: Mapping[str, Any], where: str) -> None:
    """ConfigError for a key `cls` does not have, here or in a nested config dataclass."""
    known = field_names(cls)
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; known keys: {', '.join(known)}")
    hints = get_type_hints(cls)
    for key, value in data.items():
        if dataclasses.is_dataclass(hints.get(key)) and isinstance(value, Mapping):
            check_keys(hints[key], value, f"{where}.{key}")


def describe_validation_error(exc: ValidationError, where: str) -> str:
    """The first problem of a pydantic ValidationError, on one line."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    message = str(err["msg"]).removeprefix("Value error, ")
    path = f"{where}.{loc}" if loc else where
    shown = "" if not loc else f" (got {err.get('input')!r})"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{path}: {message}{shown}{more}"
