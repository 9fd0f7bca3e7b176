"""Where a project keeps its files, relative to its root: every path the stages read and write (the
same names as dvc.yaml). Plain paths only: importing this module loads nothing else."""

from __future__ import annotations

from pathlib import Path

RAW_DIR = Path("data/raw")
LOCATED = RAW_DIR / "located.json"  # written by `locate` when every raw input is at hand
PREPARED_DIR = Path("data/prepared")
CONFIG_DIR = Path("data/configs")
MODELS_DIR = Path("data/models")
CHECKPOINT_DIR = Path("data/checkpoints")
SAMPLES_DIR = Path("data/samples")
EVALUATORS_DIR = Path("data/evaluators")
CURVES_DIR = Path("reports/curves")
VALIDATION_DIR = Path("reports/validation")  # scores during training, a CSV per run (dvc plots)
FIGURES_DIR = Path("reports/samples")
METRICS_DIR = Path("reports/metrics")
EVALUATOR_REPORTS = Path("reports/evaluators")
COMPARISON_JSON = Path("reports/comparison.json")
SCORES_JSON = Path("reports/scores.json")  # the compact metrics DVC shows
SCORES_PROTOCOL_JSON = Path("reports/scores.protocol.json")  # how each variant's scores were computed
COMPARISON_MD = Path("reports/comparison.md")
REPORT = Path("reports/report.md")
REPORT_FIGURES = Path("reports/figures")
EVALUATOR_REPORT_FILE = "report.json"
GENERATOR_FILE = "generator.pt"  # a run's generators, in its model folder
BEST_GENERATOR_FILE = "best.pt"  # its generators at the step with the best validation score
CHECKPOINT_CHOICES = {"final": GENERATOR_FILE, "best": BEST_GENERATOR_FILE}


def config_path(root: Path, variant: str) -> Path:
    return root / CONFIG_DIR / f"{variant}.json"


def model_dir(root: Path, variant: str, seed: int) -> Path:
    return root / MODELS_DIR / variant / str(seed)


def generator_path(root: Path, variant: str, seed: int, checkpoint: str = "final") -> Path:
    """A run's generator file: its last step's ("final") or its best validation step's ("best")."""
    return model_dir(root, variant, seed) / CHECKPOINT_CHOICES[checkpoint]


def checkpoint_path(root: Path, variant: str, seed: int) -> Path:
    """A run's working checkpoint: outside DVC's outputs, which DVC deletes before a re-run."""
    return root / CHECKPOINT_DIR / variant / f"{seed}.pt"


def curves_path(root: Path, variant: str, seed: int) -> Path:
    return root / CURVES_DIR / variant / f"{seed}.csv"


def validation_path(root: Path, variant: str, seed: int) -> Path:
    return root / VALIDATION_DIR / variant / f"{seed}.csv"


def metrics_path(root: Path, variant: str, seed: int) -> Path:
    return root / METRICS_DIR / variant / f"{seed}.json"
