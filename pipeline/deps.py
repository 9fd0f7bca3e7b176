"""`deps`: the code deps of every DVC stage, generated from the import closure of the module
its command runs, so nobody writes them by hand. `--write` puts them into `dvc.yaml` (the
data deps, comments and everything else stay as they are); `--check` fails when they drift.

A stage's code deps are every project file its command imports, directly or through other
project modules, at module level or inside a function, plus the `__init__.py` of every
package on the way (Python runs those too). A folder all of whose Python files the stage
runs is listed as the folder."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

from ganforge.core.errors import ConfigError

PACKAGES = {"ganforge": Path("src/ganforge"), "pipeline": Path("pipeline")}
CODE_ROOTS = ("src/", "pipeline/")
DVC_FILE = "dvc.yaml"


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
    inits = (module_file(root, ".".join(parts[:i])) for i in range(1, len(parts)))
    return [init for init in inits if init is not None and init.name == "__init__.py"]


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
    todo, visited = [module], set()
    while todo:
        name = todo.pop()
        if name in visited:
            continue
        visited.add(name)
        path = module_file(root, name)
        if path is None:
            continue
        seen.update(init.relative_to(root) for init in package_inits(root, name))
        seen.add(path.relative_to(root))
        todo.extend(imported_modules(path, name))
    return seen


def covered(path: Path, deps: list[str]) -> bool:
    """Whether a file lies in one of a stage's deps (a file or a folder)."""
    return any(path == Path(d) or Path(d) in path.parents for d in deps)


def compact(root: Path, files: set[Path]) -> list[str]:
    """The files as deps, sorted: a folder (below the two code roots) whose every Python file
    is among them stands for them."""
    folders = {parent for f in files for parent in f.parents if len(parent.parts) > 1}
    whole = {
        folder
        for folder in folders
        if folder not in (Path("src/ganforge"), Path("pipeline"))
        and all(p.relative_to(root) in files for p in (root / folder).rglob("*.py"))
    }
    outermost = {f for f in whole if not any(parent in whole for parent in f.parents)}
    loose = {f for f in files if not any(folder in f.parents for folder in outermost)}
    return sorted(str(p) for p in outermost | loose)


def stage_command(stage: dict) -> str:
    """The pipeline command a stage runs (`python -m pipeline <command> ...`)."""
    body = stage.get("do", stage)
    words = str(body["cmd"]).split()
    if words[:3] != ["python", "-m", "pipeline"] or len(words) < 4:
        raise ConfigError(f"a stage's cmd must be `python -m pipeline <command> ...`, got {body['cmd']!r}")
    return words[3]


def code_deps(stage: dict) -> list[str]:
    body = stage.get("do", stage)
    return [str(d) for d in body.get("deps", []) if str(d).startswith(CODE_ROOTS)]


def wanted_deps(root: Path, stages: dict, modules: dict[str, str]) -> dict[str, list[str]]:
    """Each stage's code deps, from the closure of the module its command runs (`modules`:
    command -> module, the CLI's table)."""
    out = {}
    for name, stage in stages.items():
        command = stage_command(stage)
        if command not in modules:
            raise ConfigError(f"stage {name} runs `{command}`, which is no pipeline stage command")
        out[name] = compact(root, closure(root, modules[command]))
    return out


def drift(root: Path, modules: dict[str, str]) -> list[str]:
    """A line per stage whose code deps in dvc.yaml differ from the generated ones."""
    stages = yaml.safe_load((root / DVC_FILE).read_text(encoding="utf-8"))["stages"]
    lines = []
    for name, wanted in wanted_deps(root, stages, modules).items():
        have = code_deps(stages[name])
        if have != wanted:
            missing, extra = sorted(set(wanted) - set(have)), sorted(set(have) - set(wanted))
            what = [*(f"missing {d}" for d in missing), *(f"not run {d}" for d in extra)] or ["out of order"]
            lines.append(f"stage {name}: {', '.join(what)}")
    return lines


_STAGE = re.compile(r"^  ([A-Za-z_][\w-]*):\s*(#.*)?$")
_DEPS = re.compile(r"^(\s+)deps:\s*(#.*)?$")
_ITEM = re.compile(r"^(\s+)- (\S+)\s*(#.*)?$")


def rewrite(text: str, wanted: dict[str, list[str]]) -> str:
    """dvc.yaml with each stage's code deps replaced by `wanted[stage]`, after its data deps;
    every other line is kept as it is."""
    lines, out, stage, i = text.splitlines(), [], None, 0
    while i < len(lines):
        line = lines[i]
        if m := _STAGE.match(line):
            stage = m.group(1)
        out.append(line)
        i += 1
        if stage in wanted and _DEPS.match(line):
            items = []
            while i < len(lines) and (item := _ITEM.match(lines[i])):
                items.append((item.group(1), item.group(2), lines[i]))
                i += 1
            indent = items[0][0] if items else _DEPS.match(line).group(1) + "  "  # type: ignore[union-attr]
            out += [raw for _, dep, raw in items if not dep.startswith(CODE_ROOTS)]
            out += [f"{indent}- {dep}" for dep in wanted[stage]]
    return "\n".join(out) + "\n"


def write_deps(root: Path, modules: dict[str, str]) -> list[str]:
    """Write the generated code deps into dvc.yaml; a line saying what changed."""
    path = root / DVC_FILE
    stages = yaml.safe_load(path.read_text(encoding="utf-8"))["stages"]
    before = drift(root, modules)
    text = rewrite(path.read_text(encoding="utf-8"), wanted_deps(root, stages, modules))
    path.write_text(text, encoding="utf-8")
    if drift(root, modules):  # what was written must read back as what was wanted
        raise ConfigError(f"could not write the deps of {DVC_FILE}: is a stage's deps: list unusual?")
    return [*before, f"{DVC_FILE}: code deps of {len(stages)} stages written ({len(before)} changed)"]
