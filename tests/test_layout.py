"""The package's shape, read from its source (no imports): the layers import one way, no
module imports itself round a circle, every module is in the README's Layout section, no code
outside tasks/ branches on a task's name, and no code outside a family's folder names it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "hourglass"
LAYERS = ("core", "data", "tasks", "models", "training", "search", "report", "cli")
TOP = {"__init__": "core", "__main__": "cli", "compare": "cli"}  # the package's own files


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path) -> set[str]:
    """Every hourglass module ``path`` imports, anywhere in it (functions included), relative
    imports resolved; ``from pkg import name`` counts the submodule when name is one."""
    known = modules()
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "hourglass"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base.split(".")[0] != "hourglass":
                continue
            subs = {f"{base}.{a.name}" for a in node.names} & set(known)
            found |= subs or {base}
            if not subs or len(subs) < len(node.names):
                found.add(base)
    return {m for m in found if m != "hourglass" or here in ("hourglass.cli.main",)} - {here}


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return TOP["__init__"]
    return parts[1] if parts[1] in LAYERS else TOP[parts[1]]


def test_every_module_is_in_a_layer():
    for name in modules():
        assert layer(name) in LAYERS, name


@pytest.mark.parametrize("name", sorted(modules()))
def test_imports_run_one_way(name):
    """A module imports only from its own layer and those before it:
    core <- data <- tasks <- models <- training <- search <- report <- cli."""
    mine = LAYERS.index(layer(name))
    later = sorted(m for m in imports(modules()[name]) if LAYERS.index(layer(m)) > mine)
    assert not later, f"{name} ({layer(name)}) imports from later layers: {later}"


def test_no_import_circles():
    graph = {name: imports(path) & set(modules()) for name, path in modules().items()}
    seen: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        seen[node] = 1
        for nxt in sorted(graph[node]):
            if seen.get(nxt) == 1:
                circle = path[path.index(nxt):] + [nxt]
                pytest.fail("import circle: " + " -> ".join(circle))
            if nxt not in seen:
                visit(nxt, [*path, nxt])
        seen[node] = 2

    for start in sorted(graph):
        if start not in seen:
            visit(start, [start])


def test_the_readme_layout_names_every_module():
    readme = (ROOT / "README.md").read_text()
    layout = readme.split("\n## Layout", 1)[1].split("\n## ", 1)[0]
    missing = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
               if p.name != "__init__.py" and not re.search(rf"\b{p.stem}\b", layout)]
    assert not missing, f"README's Layout section does not name {missing}"


TASK_NAMES = "prototype|denoise|superres|classify|lm"
TASK_BRANCH = re.compile(
    rf"""(==|!=|\bin\s*[(\[{{])\s*["']({TASK_NAMES})["']|["']({TASK_NAMES})["']\s*(==|!=)"""
    r"""|\btask\.name\s*(==|!=)|isinstance\([^)]*\b(LMTask|Task)\b""")


def test_only_tasks_branch_on_a_task():
    hits = [f"{p.relative_to(PACKAGE)}:{i}: {line.strip()}"
            for p in PACKAGE.rglob("*.py") if "tasks" not in p.relative_to(PACKAGE).parts
            for i, line in enumerate(p.read_text().splitlines(), 1) if TASK_BRANCH.search(line)]
    assert not hits, "\n".join(hits)


def test_the_families_are_folders_and_only_their_own_folder_names_one():
    folder = PACKAGE / "models" / "families"
    found = sorted(p.name for p in folder.iterdir() if (p / "spec.py").is_file())
    assert found == ["lm", "mixer", "mlp", "vit"]
    for name, path in modules().items():
        own = path.parent.name if path.parent.parent == folder else None
        named = {m.split(".")[3] for m in imports(path)
                 if m.startswith("hourglass.models.families.") and len(m.split(".")) > 3}
        assert named <= {own}, f"{name} imports the families {sorted(named - {own})}"
