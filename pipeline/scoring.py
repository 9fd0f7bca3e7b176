"""What the evaluator and evaluate stages both read from params.yaml: the scoring settings."""

from __future__ import annotations

from typing import Any

from ganforge.core.config import from_dict
from ganforge.evaluation.common import Settings
from ganforge.metrics.classifier import ClassifierConfig
from ganforge.metrics.suite import EvalConfig


def settings(params: dict[str, Any]) -> Settings:
    section = dict(params.get("evaluation") or {})
    classifier = from_dict(ClassifierConfig, section.pop("classifier", None), "evaluation.classifier")
    return Settings(from_dict(EvalConfig, section, "evaluation"), classifier)
