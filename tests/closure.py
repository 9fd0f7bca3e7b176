"""The import closure of a module inside the project: every project file it imports,
directly or through other project modules, including imports inside functions and the
`__init__.py` of every package on the way (Python runs those too)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGES = {"ganforge": Path("src/ganforge"), "pipeline": Path("pipeline")}


def module_file(root: Path, module: str) -> Path | None:
    """The file of a project module (`ganforge.nets.mlp`), or None outside the project."""
    top, *rest = module.split(".")
    if top not in PACKAGES:
        return None
    base = root / PACKAGES[top].joinpath(*rest)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def package_inits(root: Path, module: str) -> list[Path]:
    """The `__init__.py` of `module`'s package and of every package above it."""
    parts = module.split(".")
    out = []
    for i in range(1, len(parts)):
        init = module_file(root, ".".join(parts[:i]))
        if init is not None and init.name == "__init__.py":
            out.append(init)
    return out


def imported_modules(path: Path, module: str) -> set[str]:
    """Every module an import statement anywhere in the file names (`from a import b` counts
    both `a` and `a.b`, since b may be a submodule)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def closure(root: Path, module: str) -> set[Path]:
    """Every project file `module` runs when imported (paths relative to `root`)."""
    seen: set[Path] = set()
    todo = [module]
    visited: set[str] = set()
    while todo:
        name = todo.pop()
        if name in visited:
            continue
        visited.add(name)
        path = module_file(root, name)
        if path is None:
            continue
        for init in package_inits(root, name):
            seen.add(init.relative_to(root))
        seen.add(path.relative_to(root))
        todo.extend(imported_modules(path, name))
    return seen


def covered(path: Path, deps: list[str]) -> bool:
    """Whether a file lies in one of a stage's deps (a file or a folder)."""
    return any(path == Path(d) or Path(d) in path.parents for d in deps)
