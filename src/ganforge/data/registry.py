"""Data sources by name: params.yaml says `source: mnist` and this registry finds its config
type and builder. Derived sources read other prepared datasets instead of raw files."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from ganforge.core.config import from_dict
from ganforge.data.anime import AnimeConfig, load_anime
from ganforge.data.archives import ArchiveConfig, load_cyclegan, load_pix2pix
from ganforge.data.fetch import SourceContext
from ganforge.data.folder import FolderConfig, load_folder
from ganforge.data.mnist import MnistConfig, load_mnist_family
from ganforge.data.pairs import (
    PairedFolderConfig,
    UnpairedFoldersConfig,
    load_paired_folder,
    load_unpaired_folders,
)
from ganforge.data.prepared import PreparedDataset
from ganforge.data.stacked import StackedConfig, make_stacked
from ganforge.data.toy2d import Toy2DConfig, make_toy2d
from ganforge.data.translation import EdgesConfig, RecolorConfig, make_edges, make_recolor
from ganforge.core.errors import ConfigError, unknown_name


@dataclass(frozen=True)
class Source:
    config: type
    build: Callable[[Any, SourceContext], PreparedDataset]
    derived: bool = False
    """True when the source reads another prepared dataset (named by `from_dataset`)."""


SOURCES: Mapping[str, Source] = {
    "mnist": Source(MnistConfig, partial(load_mnist_family, "mnist")),
    "fashion_mnist": Source(MnistConfig, partial(load_mnist_family, "fashion_mnist")),
    "kaggle_anime": Source(AnimeConfig, load_anime),
    "folder": Source(FolderConfig, load_folder),
    "toy2d": Source(Toy2DConfig, make_toy2d),
    "pix2pix": Source(ArchiveConfig, load_pix2pix),
    "cyclegan": Source(ArchiveConfig, load_cyclegan),
    "paired_folder": Source(PairedFolderConfig, load_paired_folder),
    "unpaired_folders": Source(UnpairedFoldersConfig, load_unpaired_folders),
    "edges": Source(EdgesConfig, make_edges, derived=True),
    "recolor": Source(RecolorConfig, make_recolor, derived=True),
    "stacked": Source(StackedConfig, make_stacked, derived=True),
}


def get_source(name: str) -> Source:
    if name not in SOURCES:
        raise unknown_name("data source", name, list(SOURCES))
    return SOURCES[name]


def parse_dataset(spec: Mapping[str, Any], where: str) -> tuple[Source, Any]:
    """Split a dataset's params (`source:` plus that source's options) into the source and
    its typed config."""
    options = dict(spec)
    source_name = options.pop("source", None)
    if not isinstance(source_name, str):
        raise ConfigError(f"{where}: needs `source:`, one of {', '.join(sorted(SOURCES))}")
    source = get_source(source_name)
    return source, from_dict(source.config, options, where)


def build_dataset(spec: Mapping[str, Any], ctx: SourceContext) -> PreparedDataset:
    """Prepare one dataset from its params."""
    source, cfg = parse_dataset(spec, f"datasets.{ctx.name}")
    return source.build(cfg, ctx)
