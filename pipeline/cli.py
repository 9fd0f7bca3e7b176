"""The `ganforge` command (also `python -m pipeline`): one subcommand per DVC stage."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
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


@app.command("prepare")
@user_errors
def prepare_cmd(
    dataset: Annotated[str, typer.Argument(help="A dataset named in params.yaml `datasets:`.")],
) -> None:
    """Prepare one dataset: data/prepared/<dataset>.pt and its metadata .json."""
    from pipeline.prepare import prepare

    typer.echo(prepare(dataset, Path.cwd()))


@app.command("configure")
@user_errors
def configure_cmd(
    variant: Annotated[str, typer.Argument(help="A variant named in params.yaml `variants:`.")],
) -> None:
    """Resolve a variant (global train block + its overrides) into data/configs/<variant>.json."""
    from pipeline.variants import configure

    typer.echo(configure(variant, Path.cwd()))


@app.command("train")
@user_errors
def train_cmd(
    variant: Annotated[str, typer.Argument(help="A configured variant.")],
    seed: Annotated[int, typer.Option(help="Seed of every random source of the run.")] = 0,
) -> None:
    """Train one (variant, seed) run, resuming from its checkpoint if there is one."""
    from pipeline.train import train

    typer.echo(train(variant, seed, Path.cwd()))


@app.command("sample")
@user_errors
def sample_cmd(variant: Annotated[str, typer.Argument(help="A trained variant.")]) -> None:
    """Draw evaluation samples and figures from every trained run (run.seeds) of a variant."""
    from pipeline.sample import sample_variant

    for line in sample_variant(variant, Path.cwd()):
        typer.echo(line)


@app.command("evaluator")
@user_errors
def evaluator_cmd(dataset: Annotated[str, typer.Argument(help="A prepared dataset.")]) -> None:
    """Train the dataset's domain classifier and compute its real-data references."""
    from pipeline.evaluate import build_evaluator

    for line in build_evaluator(dataset, Path.cwd()):
        typer.echo(line)


@app.command("evaluate")
@user_errors
def evaluate_cmd(variant: Annotated[str, typer.Argument(help="A sampled variant.")]) -> None:
    """Score every seed of a variant: reports/metrics/<variant>/<seed>.json."""
    from pipeline.evaluate import evaluate_variant

    for line in evaluate_variant(variant, Path.cwd()):
        typer.echo(line)


@app.command("compare")
@user_errors
def compare_cmd() -> None:
    """Summaries over seeds and pairwise A/B tests: reports/comparison.{json,md}."""
    from pipeline.compare import write_comparison

    typer.echo(write_comparison(Path.cwd()))


@app.command("report")
@user_errors
def report_cmd() -> None:
    """The report a person reads first: reports/report.md and reports/figures/."""
    from pipeline.report import build_report

    typer.echo(build_report(Path.cwd()))


@app.command("params")
@user_errors
def params_cmd(
    overrides: Annotated[
        list[str] | None, typer.Argument(help="Hydra overrides, e.g. profile=smoke.")
    ] = None,
    check: Annotated[bool, typer.Option(help="Only check that params.yaml matches conf/.")] = False,
) -> None:
    """Compose params.yaml from conf/ (what `dvc exp run` does before each experiment)."""
    from ganforge.errors import ConfigError
    from ganforge.io import atomic_path
    from pipeline.params import PARAMS_FILE, compose

    root = Path.cwd()
    text = compose(root, list(overrides or []))
    target = root / PARAMS_FILE
    if check:
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            raise ConfigError(f"{PARAMS_FILE} does not match conf/: run `make params` and commit it")
        typer.echo(f"{PARAMS_FILE} matches conf/")
        return
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {PARAMS_FILE} from conf/ ({' '.join(overrides or []) or 'defaults'})")


def main() -> None:
    app(prog_name="ganforge" if not sys.argv[0].endswith("__main__.py") else "python -m pipeline")
