"""The documentation: a short README whose links hold, a docs site whose relative links hold,
results pages made from the committed reports (never typed by hand), and a strict mkdocs build."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
REPORTS = ROOT / "reports"

# [text](target) and ![alt](target), outside code; a target up to whitespace or ')'.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _results_hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_results_hook", DOCS / "hooks" / "results.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _prose(markdown: str) -> str:
    """The markdown without fenced code blocks and inline code spans, where `[x](y)` is not a link."""
    without_fences = re.sub(r"^```.*?^```", "", markdown, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", without_fences)


def _relative_links(page: Path) -> list[str]:
    targets = LINK.findall(_prose(page.read_text()))
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")]


def _doc_pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if "hooks" not in p.relative_to(DOCS).parts)


def test_readme_is_short() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; the rest belongs in docs/"


@pytest.mark.parametrize("page", [README, *_doc_pages()], ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_to_files(page: Path) -> None:
    generated = {DOCS / "results" / "index.md", DOCS / "results" / "comparison.md"}  # made at build time
    broken = []
    for target in _relative_links(page):
        path = (page.parent / target.split("#", 1)[0]).resolve()
        if not path.exists() and path not in generated:
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)} links to missing files: {broken}"


def test_readme_links_every_docs_page() -> None:
    linked = {(ROOT / t.split("#", 1)[0]).resolve() for t in _relative_links(README)}
    top_level = sorted(DOCS.glob("*.md"))
    missing = [p.name for p in top_level if p.resolve() not in linked]
    assert not missing, f"the README's map of the docs leaves out {missing}"


def _summary_rows(comparison_md: str) -> list[tuple[str, str]]:
    """(variant, "mean ± std") of every summary row of the comparison's score tables."""
    return re.findall(r"^\| (\w+) +\| +\d+ \| ([^|]+±[^|]+?) +\|", comparison_md, flags=re.M)


def test_results_pages_are_made_from_the_committed_reports() -> None:
    comparison_md = (REPORTS / "comparison.md").read_text()
    report_md = (REPORTS / "report.md").read_text()
    hook = _results_hook()
    results, comparison = hook.results_page(), hook.comparison_page()

    # Every heading and every table row of the comparison reaches its page, as written (a `|`
    # inside a cell escaped, so that the cell stays whole).
    headings = re.findall(r"^#{1,3} .+$", comparison_md, flags=re.M)
    rows = [line for line in comparison_md.splitlines() if line.startswith("|")]
    assert headings and rows and _summary_rows(comparison_md)
    for line in headings + rows:
        assert line.replace("|Δ|", r"\|Δ\|") in comparison
    # The report's leaderboards, with its figures under the paths it names them by.
    leaderboards = [line for line in report_md.splitlines() if line.startswith("|") and " final " in line]
    assert leaderboards
    for line in leaderboards:
        assert line in results
    figures = re.findall(r"!\[[^\]]*\]\((figures/[^)]+)\)", report_md)
    assert figures
    assert set(figures) <= {f.as_posix() for f in hook.figures()}
    for figure in figures:
        assert f"]({figure})" in results
    # The compact scores (reports/scores.json) head the page, one row per variant.
    scores = json.loads((REPORTS / "scores.json").read_text())
    for variant in scores:
        assert f"| `{variant}` |" in results


def test_results_hook_prints_standalone() -> None:
    out = subprocess.run(
        [sys.executable, str(DOCS / "hooks" / "results.py"), "--page", "comparison"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert out.splitlines()[0] == (REPORTS / "comparison.md").read_text().splitlines()[0]


def test_site_builds_strict(tmp_path: Path) -> None:
    """`make docs` into a temporary folder (about 10 s): any warning (a broken link or anchor,
    a docstring mkdocstrings cannot read) fails the build; the results pages carry the
    committed comparison's numbers and the report's figures."""
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent)) or shutil.which("mkdocs")
    if mkdocs is None or importlib.util.find_spec("mkdocstrings_handlers") is None:
        pytest.skip("mkdocs and mkdocstrings-python are not installed (pip install -e '.[dev]')")
    site = tmp_path / "site"
    result = subprocess.run(
        [mkdocs, "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    comparison_html = (site / "results" / "comparison" / "index.html").read_text()
    variant, mean_std = _summary_rows((REPORTS / "comparison.md").read_text())[0]
    assert f'<td style="text-align: left;">{variant}</td>' in comparison_html
    assert mean_std in comparison_html
    results_html = (site / "results" / "index.html").read_text()
    for figure in re.findall(r"!\[[^\]]*\]\((figures/[^)]+)\)", (REPORTS / "report.md").read_text()):
        assert f'src="{figure}"' in results_html
        assert (site / "results" / figure).is_file()
