from dataclasses import dataclass
from typing import Literal

import pytest

from ganforge.core.config import from_dict
from ganforge.core.errors import ConfigError


@dataclass(frozen=True)
class Example:
    mode: Literal["a", "b"] = "a"
    size: int = 3
    colour: tuple[int, int, int] = (0, 0, 0)

    def __post_init__(self):
        if self.size < 1:
            raise ValueError(f"size must be positive, got {self.size}")


def test_builds_typed_config_from_yaml_like_values():
    cfg = from_dict(Example, {"mode": "b", "colour": [1, 2, 3]}, "x")
    assert cfg == Example("b", 3, (1, 2, 3))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"sise": 2}, r"^x: unknown key 'sise'; known keys: mode, size, colour$"),
        ({"size": "big"}, r"^x.size: Input should be a valid integer.*\(got 'big'\)$"),
        ({"mode": "c"}, r"^x.mode: Input should be 'a' or 'b' \(got 'c'\)$"),
        ({"size": 0}, r"^x: size must be positive, got 0$"),
        ({"colour": [1, 2]}, r"^x.colour.2: Field required"),
    ],
)
def test_errors_are_one_line_and_name_the_key(data, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(Example, data, "x")


@dataclass(frozen=True)
class Outer:
    inner: Example = Example()
    name: str = "x"


def test_unknown_keys_in_nested_configs_are_errors():
    assert from_dict(Outer, {"inner": {"size": 4}}, "o").inner.size == 4
    with pytest.raises(ConfigError, match=r"^o.inner: unknown key 'sise'"):
        from_dict(Outer, {"inner": {"sise": 4}}, "o")
