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
