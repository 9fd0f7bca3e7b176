"""Data layer: sources (`registry.SOURCES`) turn raw files (or code, or other prepared
datasets) into one prepared file per dataset (`prepared`). This file imports nothing, so
reading a prepared dataset does not load every source."""
