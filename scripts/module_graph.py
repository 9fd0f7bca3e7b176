"""The library's packages as a table: files, lines, how many other packages each imports and
is imported by, and every pair of packages that import each other (directly or through
others). Reads the source only (ast), so it works on any revision:

    python scripts/module_graph.py                       # this checkout's src/
    mkdir /tmp/old && git archive 2be65b1 src | tar x -C /tmp/old
    python scripts/module_graph.py /tmp/old/src          # the same table at 2be65b1

A top-level module counts as a package of its own; `tests/test_layers.py` is what fails on
a cycle or a layer break. This only describes."""

from __future__ import annotations

import argparse
import ast
from collections import defaultdict
from pathlib import Path


def unit(module: str) -> str:
    """The first-level package (or top-level module) a dotted ganforge module belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "(root)"


def imported(path: Path, module: str) -> set[str]:
    """Every ganforge module `path` (the module `module`) imports, relative imports resolved."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                found.add(".".join(base + ([node.module] if node.module else [])))
            else:
                found.add(node.module or "")
    return {m for m in found if m.startswith("ganforge.")}


def graph(src: Path) -> tuple[dict[str, int], dict[str, int], dict[str, set[str]]]:
    """Files and lines per package, and the packages each imports."""
    files: dict[str, int] = defaultdict(int)
    lines: dict[str, int] = defaultdict(int)
    edges: dict[str, set[str]] = defaultdict(set)
    for path in sorted((src / "ganforge").rglob("*.py")):
        module = ".".join(path.relative_to(src).with_suffix("").parts).removesuffix(".__init__")
        own = unit(module)
        files[own] += 1
        lines[own] += len(path.read_text().splitlines())
        edges[own] |= {unit(m) for m in imported(path, module)} - {own}
    return files, lines, edges


def reachable(edges: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    stack = [start]
    while stack:
        for nxt in edges.get(stack.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def main(argv: list[str] | None = None) -> int:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("src", nargs="?", type=Path, default=Path(__file__).resolve().parents[1] / "src")
    args = parser.parse_args(argv)
    files, lines, edges = graph(args.src)
    into: dict[str, set[str]] = defaultdict(set)
    for own, targets in edges.items():
        for target in targets:
            into[target].add(own)
    print("| package | files | lines | imports | imported by |")
    print("|---|---:|---:|---:|---:|")
    for own in sorted(lines, key=lambda u: (-lines[u], u)):
        print(f"| {own} | {files[own]} | {lines[own]} | {len(edges[own])} | {len(into[own])} |")
    print(f"| all | {sum(files.values())} | {sum(lines.values())} | | |")
    pairs = {tuple(sorted((a, b))) for a in lines for b in edges.get(a, ()) if a in reachable(edges, b)}
    cycles = sorted(pairs)
    print("packages in a cycle:", ", ".join(f"{a} <-> {b}" for a, b in cycles) or "none")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
