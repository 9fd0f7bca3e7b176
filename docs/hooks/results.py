"""The site's results pages, made from the committed `reports/` at build time.

An mkdocs hook (`hooks:` in mkdocs.yml): `on_files` adds three things to the site that are
never written into `docs/`, so nothing generated is committed and nothing can go stale:

- `results/index.md`: the headline scores of `reports/scores.json` (what `dvc metrics show`
  reads) as one table per kind of score, then `reports/report.md` as the pipeline wrote it;
- `results/comparison.md`: `reports/comparison.md`, every statistic and pairwise test;
- `results/figures/*.png`: the figures of `reports/figures/`, at the paths the report names
  them by (relative to `reports/`, hence to `results/`).

Run by hand, it prints a page to stdout instead:

    python docs/hooks/results.py > results.md                  # the results page
    python docs/hooks/results.py --page comparison > comparison.md

This file imports nothing of ganforge: it reads the reports as files, as a reader would.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
REPORTS = ROOT / "reports"
RESULTS = "results"  # the site folder the generated pages and figures go to

_EMPTY_REPORTS = (
    "No results are committed yet: `reports/report.md` is written by `make run` "
    "(`dvc repro`), and this page shows it at the next `mkdocs build`."
)


def _escape_table_pipes(markdown: str) -> str:
    """The reports write `|Δ|` (an absolute difference) inside table cells, where a bare `|`
    would split the cell in Python-Markdown (and on GitHub): escape it there."""
    lines = []
    for line in markdown.splitlines():
        if line.startswith("|"):
            line = line.replace("|Δ|", r"\|Δ\|")
        lines.append(line)
    return "\n".join(lines) + "\n"


def _demote(markdown: str) -> str:
    """One heading level down (outside code fences), so that a page keeps a single title."""
    lines, fenced = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and re.match(r"#{1,5} ", line):
            line = "#" + line
        lines.append(line)
    return "\n".join(lines) + "\n"


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "–" if value is None else str(value)


def _main_score(row: dict[str, Any]) -> str:
    """The dataset's main score of a variant's row: the key that has a `_low` bound."""
    return next((k.removesuffix("_low") for k in row if k.endswith("_low")), "")


def scores_tables(scores: dict[str, dict[str, Any]]) -> str:
    """`reports/scores.json` as tables: one per main score (so variants scored alike share a
    table), the main score and its interval first, a dash where a variant has no such score."""
    groups: dict[str, list[str]] = {}
    for variant, row in scores.items():
        groups.setdefault(_main_score(row), []).append(variant)
    out = []
    for main, variants in groups.items():
        keys = [f"{main}{suffix}" for suffix in ("", "_low", "_high", "_raw", "_best")] if main else []
        for variant in variants:
            keys += [k for k in scores[variant] if k not in keys]
        keys = [k for k in keys if any(k in scores[v] for v in variants)]
        out.append("| variant | " + " | ".join(f"`{k}`" for k in keys) + " |")
        out.append("|:--|" + "--:|" * len(keys))
        for variant in variants:
            row = scores[variant]
            out.append(f"| `{variant}` | " + " | ".join(_number(row.get(k)) for k in keys) + " |")
        out.append("")
    return "\n".join(out)


def results_page(reports: Path = REPORTS) -> str:
    """The results page: the compact scores, then the report."""
    parts = [
        "# Results\n",
        "This page is generated when the site is built (`docs/hooks/results.py`), from the files",
        "the pipeline committed under `reports/`: it shows the results of the commit the site",
        "was built from, and nothing on it is typed by hand. To make new ones, run the pipeline",
        "(`make run`, or `dvc exp run -S profile=...`, see [Experiments](../experiments.md)) and",
        "build the site again. Below: the compact scores, then `reports/report.md` as the",
        "`report` stage wrote it; every statistic and pairwise test is on the",
        "[comparison](comparison.md) page.\n",
    ]
    scores_path = reports / "scores.json"
    if scores_path.is_file():
        scores = json.loads(scores_path.read_text())
        parts += [
            "## Headline scores\n",
            "`reports/scores.json`, the compact metrics `dvc metrics show` and `dvc exp show` read:",
            "per variant, the mean over seeds of its EMA generator's headline scores, the 95%",
            "interval of its dataset's main score (`*_low`, `*_high`), the raw generator's mean",
            "of it (`*_raw`) and the best checkpoint's (`*_best`). Which way is better, and how",
            "each score is computed: [Evaluation](../evaluation.md).\n",
            scores_tables(scores),
        ]
    report_path = reports / "report.md"
    if report_path.is_file():
        parts.append(_demote(_escape_table_pipes(report_path.read_text())))
    else:
        parts.append(_EMPTY_REPORTS + "\n")
    return "\n".join(parts)


def comparison_page(reports: Path = REPORTS) -> str:
    """The comparison page: `reports/comparison.md` as the `compare` stage wrote it."""
    path = reports / "comparison.md"
    if not path.is_file():
        return "# Comparison of variants\n\n" + _EMPTY_REPORTS + "\n"
    return _escape_table_pipes(path.read_text())


def figures(reports: Path = REPORTS) -> list[Path]:
    """Every figure the report can name, relative to `reports/`."""
    folder = reports / "figures"
    if not folder.is_dir():
        return []
    return sorted(p.relative_to(reports) for p in folder.rglob("*") if p.is_file())


def on_files(files: Any, config: Any) -> Any:
    """mkdocs hook: add the generated pages and the report's figures to the site."""
    from mkdocs.structure.files import File

    files.append(File.generated(config, f"{RESULTS}/index.md", content=results_page()))
    files.append(File.generated(config, f"{RESULTS}/comparison.md", content=comparison_page()))
    for figure in figures():
        src_uri = f"{RESULTS}/{figure.as_posix()}"
        files.append(File.generated(config, src_uri, abs_src_path=str(REPORTS / figure)))
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print a results page of the site, made from reports/.")
    parser.add_argument("--page", choices=["results", "comparison"], default="results")
    parser.add_argument("--reports", type=Path, default=REPORTS, help="default: the project's reports/")
    args = parser.parse_args(argv)
    page = results_page(args.reports) if args.page == "results" else comparison_page(args.reports)
    sys.stdout.write(page)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
