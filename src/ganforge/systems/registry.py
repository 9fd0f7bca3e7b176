"""Every kind of system by the name a variant's `system: {kind: ...}` gives."""

from __future__ import annotations

from collections.abc import Mapping

from ganforge.core.errors import unknown_name
from ganforge.systems.cyclegan import CycleGanKind
from ganforge.systems.gan import GanKind
from ganforge.systems.kind import SystemKind
from ganforge.systems.pix2pix import Pix2PixKind
from ganforge.systems.semi_supervised import SemiSupervisedKind
from ganforge.variants.system_options import OptionsTable

SYSTEMS: Mapping[str, SystemKind] = {
    kind.name: kind for kind in (GanKind(), SemiSupervisedKind(), Pix2PixKind(), CycleGanKind())
}

SYSTEM_OPTIONS: OptionsTable = {name: kind.options for name, kind in SYSTEMS.items()}
"""Each kind's options dataclass, derived from the kinds: what a variant's `system:` block
is read as (`ganforge.variants.resolve_variant`, `variant_from_json`)."""


def get_system(name: str) -> SystemKind:
    if name not in SYSTEMS:
        raise unknown_name("system kind", name, list(SYSTEMS))
    return SYSTEMS[name]
