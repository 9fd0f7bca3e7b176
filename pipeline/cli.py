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

from ganforge.core.errors import GanforgeError

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
    "locate": "pipeline.prepare",
    "configure": "pipeline.configure",
    "train": "pipeline.train",
    "evaluator": "pipeline.evaluator",
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


@app.command("locate")
def locate_cmd() -> None:
    """Check that every raw input of the profile's datasets is at hand (offline: in the mirror or
    the download cache), printing one line per missing file, before any dataset is prepared."""
    try:
        echo_lines(stage("locate").locate_or_fail(Path.cwd()))
    except GanforgeError as exc:
        for line in str(exc).splitlines():
            typer.echo(f"error: {line}", err=True)
        raise typer.Exit(1) from None


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
def evaluator_cmd(
    dataset: Annotated[str, typer.Argument(help="A prepared dataset.")],
    classifier_from: Annotated[
        str | None,
        typer.Option(help="The dataset whose evaluator scores this one (Stacked MNIST: mnist)."),
    ] = None,
) -> None:
    """Build a dataset's evaluator: domain classifiers, real-data references, baselines."""
    echo_lines(stage("evaluator").build(dataset, Path.cwd(), classifier_from))


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


@app.command("deps")
@user_errors
def deps_cmd(
    write: Annotated[bool, typer.Option("--write", help="Write the code deps into dvc.yaml.")] = False,
    check: Annotated[bool, typer.Option("--check", help="Fail when dvc.yaml's code deps drift.")] = False,
) -> None:
    """Each DVC stage's code deps, from the import closure of the module its command runs."""
    from pipeline import deps

    if write == check:
        raise typer.BadParameter("give one of --write and --check")
    if write:
        echo_lines(deps.write_deps(Path.cwd(), STAGES))
        return
    drifted = deps.drift(Path.cwd(), STAGES)
    if drifted:
        echo_lines([*drifted, "the code deps in dvc.yaml drifted: run `python -m pipeline deps --write`"])
        raise typer.Exit(1)
    typer.echo("dvc.yaml: every stage's code deps match its import closure")


@app.command("machine")
@user_errors
def machine_cmd() -> None:
    """This machine (CPU, torch, the precision image models train in) and whether the
    project's committed results were made in the same precision (`make run` says it first)."""
    from ganforge.core.device import image_precision, machine
    from ganforge.provenance import precision_note, recorded_precisions

    info, here = machine(), image_precision()
    typer.echo(
        f"this machine: {info.get('gpu') or info['cpu']}, torch {info['torch']}, image models train in {here}"
    )
    from pipeline.params import load_params, run_variants

    root = Path.cwd()
    variants = run_variants(load_params(root)) if (root / "params.yaml").is_file() else {}
    note = precision_note(here, recorded_precisions(root, variants))
    if note is not None:
        typer.echo(note)


# Using trained models: these commands read the project through the library
# (`ganforge.serving`), not through the stage modules.

ProjectOpt = Annotated[Path, typer.Option("--project", help="The project folder (default: here).")]
RunSeedOpt = Annotated[
    int | None, typer.Option("--run-seed", help="Which run of the variant (default: its first).")
]
GeneratorOpt = Annotated[str, typer.Option("--generator", help="ema (default, where there is one) or raw.")]
CheckpointOpt = Annotated[
    str,
    typer.Option(
        "--checkpoint",
        help="final (default: the last step's generators) or best (the step with the best "
        "validation score, for runs scored during training).",
    ),
]


def open_model(project: Path, name: str, run_seed: int | None, checkpoint: str = "final") -> Any:
    from ganforge.serving.catalog import open_catalog

    return open_catalog(project.resolve(), checkpoint=checkpoint).get(name, run_seed)


def latent_seeds(seeds: str | None, n: int | None, base_seed: int) -> list[int]:
    from ganforge.core.errors import ConfigError
    from ganforge.serving.files import parse_seeds

    if (seeds is None) == (n is None):
        raise ConfigError("give either --seeds (e.g. 0-999) or --n (with --base-seed)")
    if seeds is not None:
        return parse_seeds(seeds)
    if n is None or n < 1:
        raise ConfigError(f"--n must be positive, got {n}")
    return parse_seeds(f"{base_seed}-{base_seed + n - 1}")


@app.command("generate")
@user_errors
def generate_cmd(
    model: Annotated[str, typer.Argument(help="A trained variant, or models:/<name>/<version>.")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write into.")],
    seeds: Annotated[str | None, typer.Option(help="Latent seeds, e.g. 0-999 or 3,7,11.")] = None,
    n: Annotated[int | None, typer.Option("--n", help="Draw N seeds from --base-seed on.")] = None,
    base_seed: Annotated[int, typer.Option(help="First seed for --n.")] = 0,
    run_seed: RunSeedOpt = None,
    label: Annotated[
        str | None, typer.Option("--class", help="Class index or name (conditional models).")
    ] = None,
    truncation: Annotated[float, typer.Option(help="ψ in [0, 1]: latents scaled toward the mean.")] = 1.0,
    fmt: Annotated[
        str | None, typer.Option("--format", help="png or npz (images); csv or npz (points).")
    ] = None,
    generator: GeneratorOpt = "ema",
    batch_size: Annotated[int, typer.Option(help="Latents per forward pass.")] = 64,
    checkpoint: CheckpointOpt = "final",
    project: ProjectOpt = Path(),
) -> None:
    """One output per latent seed (seed0000.png …, or one .npz) and a generate.json sidecar."""
    from ganforge.serving.tools import generate_files, project_commit

    chosen = latent_seeds(seeds, n, base_seed)
    served = open_model(project, model, run_seed, checkpoint)
    meta = generate_files(
        served, chosen, out, fmt, served.class_index(label) if served.conditional or label else None,
        truncation, generator, batch_size, project_commit(project), progress=True,
    )  # fmt: skip
    typer.echo(
        f"wrote {meta['count']} {served.produces} of {meta['variant']} run {meta['run_seed']} to {out}"
    )


@app.command("translate")
@user_errors
def translate_cmd(
    model: Annotated[str, typer.Argument(help="A trained translation variant, or models:/<name>/<version>.")],
    in_dir: Annotated[Path, typer.Argument(help="Folder of input images.")],
    out_dir: Annotated[Path, typer.Argument(help="Folder for the translations.")],
    direction: Annotated[str | None, typer.Option(help="a2b or b2a (default: the model's first).")] = None,
    run_seed: RunSeedOpt = None,
    generator: GeneratorOpt = "ema",
    checkpoint: CheckpointOpt = "final",
    project: ProjectOpt = Path(),
) -> None:
    """Translate every image of a folder (PNG out, the model's size) with a translate.json sidecar."""
    from ganforge.serving.tools import project_commit, translate_folder

    served = open_model(project, model, run_seed, checkpoint)
    meta = translate_folder(served, in_dir, out_dir, direction, generator, commit=project_commit(project))
    typer.echo(
        f"translated {meta['inputs']} images ({meta['direction']}) with {meta['variant']} into {out_dir}"
    )


@app.command("interpolate")
@user_errors
def interpolate_cmd(
    model: Annotated[str, typer.Argument(help="A trained image variant, or models:/<name>/<version>.")],
    seeds: Annotated[str, typer.Option(help="Seeds to pass through, e.g. 1,5,9 (analogy: a,b,c).")],
    out: Annotated[Path, typer.Option("--out", help="PNG file to write.")],
    steps: Annotated[int, typer.Option(help="Images per leg (analogy: the grid's side).")] = 8,
    mode: Annotated[str, typer.Option(help="slerp, lerp or analogy.")] = "slerp",
    run_seed: RunSeedOpt = None,
    label: Annotated[str | None, typer.Option("--class", help="Class (conditional models).")] = None,
    truncation: Annotated[float, typer.Option(help="ψ in [0, 1].")] = 1.0,
    generator: GeneratorOpt = "ema",
    checkpoint: CheckpointOpt = "final",
    project: ProjectOpt = Path(),
) -> None:
    """A strip through several seeds, or the analogy grid a : b :: c : c + (b − a)."""
    from ganforge.serving.files import parse_seeds
    from ganforge.serving.tools import interpolation_image, write_png

    served = open_model(project, model, run_seed, checkpoint)
    label_index = served.class_index(label) if served.conditional or label else None
    images, per_row = interpolation_image(
        served, parse_seeds(seeds, 16), steps, mode, label_index, truncation, generator
    )
    typer.echo(f"wrote {len(images)} images to {write_png(images, per_row, out)}")


@app.command("atvec")
@user_errors
def atvec_cmd(
    model: Annotated[str, typer.Argument(help="A trained unconditional image variant.")],
    label: Annotated[
        str, typer.Option("--class", help="The class (index or name of the dataset's classes).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder for vector.json and strip.png.")],
    samples: Annotated[int, typer.Option(help="Samples the vector is built from.")] = 2000,
    scale: Annotated[float, typer.Option(help="How far to move along the vector.")] = 1.0,
    seeds: Annotated[str, typer.Option(help="Seeds shown in the strip.")] = "0-5",
    run_seed: RunSeedOpt = None,
    checkpoint: CheckpointOpt = "final",
    project: ProjectOpt = Path(),
) -> None:
    """Build an attribute vector with the dataset's domain classifier, apply it, say how well it works."""
    from ganforge.serving.files import parse_seeds
    from ganforge.serving.tools import atvec_files

    served = open_model(project, model, run_seed, checkpoint)
    vec, scales = atvec_files(project.resolve(), served, label, out, samples, scale, parse_seeds(seeds, 32))
    typer.echo(
        f"{vec.label!r} vector of {served.name} run {served.seed}: the classifier says {vec.label!r} "
        f"for {vec.rate_before:.1%} of {vec.checked_on} samples, {vec.rate_after:.1%} moved by {scale:g}× "
        f"(strip columns: scales {', '.join(f'{s:g}' for s in scales)}) -> {out}"
    )


@app.command("serve")
@user_errors
def serve_cmd(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.", envvar="GANFORGE_PORT")] = 8000,
    project: ProjectOpt = Path(),
    checkpoint: CheckpointOpt = "final",
    cors_origin: Annotated[
        list[str] | None, typer.Option(help="An origin allowed to call the API (repeatable).")
    ] = None,
    max_count: Annotated[int, typer.Option(help="Most images per request.")] = 64,
    cache_size: Annotated[int, typer.Option(help="Most models kept loaded.")] = 8,
    workers: Annotated[int, typer.Option(help="Requests that run torch at once.")] = 2,
    torch_threads: Annotated[int, typer.Option(help="Threads torch uses within one request.")] = 1,
    grace: Annotated[
        float, typer.Option(help="Seconds requests in flight get to finish after SIGTERM.")
    ] = 30.0,
) -> None:
    """The HTTP API and the page at /, on the project's trained runs (API key: GANFORGE_API_KEY).
    Metrics at /metrics, one JSON access-log line per request on stdout; SIGTERM stops it
    gracefully (new requests 503, those in flight finish)."""
    from ganforge.serving.catalog import check_checkpoint
    from ganforge.serving.server import check_port, check_project, serve

    check_project(project.resolve())
    check_port(host, port)
    import torch

    torch.set_num_threads(torch_threads)  # requests run side by side: one thread each pays best
    from ganforge.serving.api import ServeSettings, create_app

    settings = ServeSettings.from_env(
        project=project.resolve(), max_count=max_count, cache_size=cache_size, workers=workers,
        cors_origins=tuple(cors_origin or ()), checkpoint=check_checkpoint(checkpoint),
    )  # fmt: skip
    serve(create_app(settings), host, port, grace)


def main() -> None:
    app(prog_name="ganforge" if not sys.argv[0].endswith("__main__.py") else "python -m pipeline")
