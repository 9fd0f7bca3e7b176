"""Every kind of system by the name a variant's `system: {kind: ...}` gives."""

from __future__ import annotations

from collections.abc import Mapping

from ganforge.core.errors import unknown_name
from ganforge.systems.cyclegan import CycleGanKind
from ganforge.systems.gan import GanKind
from ganforge.systems.kind import SystemKind
from ganforge.systems.pix2pix import Pix2PixKind
from ganforge.systems.semi_supervised import SemiSupervisedKind

SYSTEMS: Mapping[str, SystemKind] = {
    kind.name: kind for kind in (GanKind(), SemiSupervisedKind(), Pix2PixKind(), CycleGanKind())
}


def get_system(name: str) -> SystemKind:
    if name not in SYSTEMS:
        raise unknown_name("system kind", name, list(SYSTEMS))
    return SYSTEMS[name]
