"""Data layer: sources turn raw files (or code) into one prepared file per dataset."""

from ganforge.data.fetch import SourceContext
from ganforge.data.prepared import PreparedDataset, load_prepared, save_prepared
from ganforge.data.registry import SOURCES, build_dataset, parse_dataset

__all__ = ["SOURCES", "PreparedDataset", "SourceContext", "build_dataset", "load_prepared",
           "parse_dataset", "save_prepared"]
