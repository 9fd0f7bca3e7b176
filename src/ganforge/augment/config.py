"""The `augment:` block of a variant (torch-free, so resolving a variant stays cheap).

`policy` lists DiffAugment's ops (Zhao et al. 2020) that every image D sees goes through, real
or generated, for D's loss and G's alike: `color` (brightness, saturation, contrast),
`translation` (integer shifts up to `translation` of the side, zero-filled), `cutout` (one
zeroed square of `cutout` of the side). With `ada` on (Karras et al. 2020), each op of
`ada_ops` is applied to each image with probability p instead; p starts at `ada_p`, and every
`ada_interval` steps moves towards keeping E[sign D(x_real)] at `ada_target`, fast enough to
go from 0 to 1 in `ada_kimg` thousand real images."""

from __future__ import annotations

from dataclasses import dataclass

OPS = ("color", "translation", "cutout", "xflip")
"""Every op by name; DiffAugment's policy takes the first three, ADA all four."""


@dataclass(frozen=True)
class AugmentConfig:
    policy: tuple[str, ...] = ()
    translation: float = 0.125
    cutout: float = 0.5
    ada: bool = False
    ada_ops: tuple[str, ...] = ("xflip", "translation", "color", "cutout")
    ada_target: float = 0.6
    ada_interval: int = 4
    ada_kimg: float = 20.0
    ada_p: float = 0.0

    def __post_init__(self) -> None:
        for where, names in (("policy", self.policy), ("ada_ops", self.ada_ops)):
            unknown = [n for n in names if n not in OPS]
            if unknown:
                raise ValueError(f"{where}: unknown augmentation {unknown[0]!r}; known: {', '.join(OPS)}")
        if "xflip" in self.policy:
            raise ValueError(
                "policy: xflip is an ADA op (DiffAugment's policy is color, translation, cutout)"
            )
        if not 0.0 < self.ada_target < 1.0:
            raise ValueError(f"ada_target must be between 0 and 1 (exclusive), got {self.ada_target}")
        if self.ada_interval < 1:
            raise ValueError(f"ada_interval must be 1 or more, got {self.ada_interval}")
        if self.ada_kimg <= 0:
            raise ValueError(f"ada_kimg must be positive, got {self.ada_kimg}")
        if not 0.0 <= self.ada_p <= 1.0:
            raise ValueError(f"ada_p must be between 0 and 1, got {self.ada_p}")
        if not 0.0 < self.translation < 0.5 or not 0.0 < self.cutout < 1.0:
            raise ValueError("translation must be in (0, 0.5) and cutout in (0, 1), as fractions of the side")
        if self.ada and not self.ada_ops:
            raise ValueError("ada needs at least one op in ada_ops")

    @property
    def active(self) -> bool:
        """Whether anything reaches D (an empty policy without ADA changes nothing)."""
        return bool(self.policy) or self.ada
