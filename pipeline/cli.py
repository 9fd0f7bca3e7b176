"""The `ganforge` command (also `python -m pipeline`): one subcommand per DVC stage. Each
command imports only its own stage module (`STAGES`), so a stage runs exactly the code that
module imports, which is what its `deps:` in dvc.yaml must cover (a test checks this)."""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any, TypeVar

import typer

from ganforge.errors import GanforgeError

app = typer.Typer(
    name="ganforge",
    help="ganforge pipeline stages (each DVC stage runs one of these commands).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

F = TypeVar("F", bound=Callable[..., Any])

# The module each command runs.
STAGES = {
    "prepare": "pipeline.prepare",
    "configure": "pipeline.configure",
    "train": "pipeline.train",
    "evaluator": "pipeline.evaluate",
    "evaluate": "pipeline.evaluate",
    "compare": "pipeline.compare",
    "report": "pipeline.report",
    "track": "pipeline.track",
    "params": "pipeline.params",
}


def stage(command: str) -> ModuleType:
    return importlib.import_module(STAGES[command])


def user_errors(fn: F) -> F:
    """Print a user error as one line on stderr and exit 1 (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except GanforgeError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def echo_lines(lines: list[str] | str) -> None:
    for line in [lines] if isinstance(lines, str) else lines:
        typer.echo(line)


@app.command("prepare")
@user_errors
def prepare_cmd(
    dataset: Annotated[str, typer.Argument(help="A dataset named in params.yaml `datasets:`.")],
) -> None:
    """Prepare one dataset: data/prepared/<dataset>.pt and its metadata .json."""
    echo_lines(stage("prepare").prepare(dataset, Path.cwd()))


@app.command("configure")
@user_errors
def configure_cmd() -> None:
    """Resolve every variant of the profile into data/configs/<variant>.json."""
    echo_lines(stage("configure").configure(Path.cwd()))


@app.command("train")
@user_errors
def train_cmd(
    variant: Annotated[str, typer.Argument(help="A configured variant.")],
    seed: Annotated[
        int | None, typer.Option(help="Train only this seed (default: every seed of run.seeds).")
    ] = None,
) -> None:
    """Train every seed of a variant (each resuming from its checkpoint if there is one)."""
    echo_lines(stage("train").train_variant(variant, Path.cwd(), seed))


@app.command("evaluator")
@user_errors
def evaluator_cmd(dataset: Annotated[str, typer.Argument(help="A prepared dataset.")]) -> None:
    """Build a dataset's evaluator: domain classifiers, real-data references, baselines."""
    echo_lines(stage("evaluator").build(dataset, Path.cwd()))


@app.command("evaluate")
@user_errors
def evaluate_cmd(variant: Annotated[str, typer.Argument(help="A sampled variant.")]) -> None:
    """Sample and score every seed of a variant: samples, figures, reports/metrics/<variant>/<seed>.json."""
    echo_lines(stage("evaluate").evaluate_variant(variant, Path.cwd()))


@app.command("compare")
@user_errors
def compare_cmd() -> None:
    """Summaries over seeds and pairwise A/B tests: reports/comparison.{json,md}."""
    echo_lines(stage("compare").write_comparison(Path.cwd()))


@app.command("report")
@user_errors
def report_cmd() -> None:
    """The report a person reads first: reports/report.md and reports/figures/."""
    echo_lines(stage("report").write_report(Path.cwd()))


@app.command("track")
@user_errors
def track_cmd() -> None:
    """Make the MLflow store hold every run and the comparison that DVC holds."""
    echo_lines(stage("track").track(Path.cwd()))


@app.command("params")
@user_errors
def params_cmd(
    overrides: Annotated[
        list[str] | None, typer.Argument(help="Hydra overrides, e.g. profile=smoke.")
    ] = None,
    check: Annotated[bool, typer.Option(help="Only check that params.yaml matches conf/.")] = False,
) -> None:
    """Compose params.yaml from conf/ (what `dvc exp run` does before each experiment)."""
    echo_lines(stage("params").write_params(Path.cwd(), list(overrides or []), check))


def main() -> None:
    app(prog_name="ganforge" if not sys.argv[0].endswith("__main__.py") else "python -m pipeline")
