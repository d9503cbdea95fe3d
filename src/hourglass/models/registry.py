"""Finding the model families, naming none of them: every folder of models/families that holds
a spec.py, the plug-ins installed under the entry-point group ``hourglass.families``, and the
modules or files named by ``--plugin`` (kept in $HOURGLASS_PLUGINS, so the worker processes of
a search load them too). Importing a family's spec module registers it (family.register).

A plug-in that fails to import, or registers nothing, is one line naming it, not a traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path

from hourglass.core.errors import UserError
from hourglass.models.family import FAMILIES, LOADING, Family, register

ENTRY_POINT_GROUP = "hourglass.families"
PLUGIN_ENV = "HOURGLASS_PLUGINS"  # os.pathsep-separated modules or paths
_done: set[str] = set()  # "builtin", "entry points" and each plug-in loaded


def _builtin() -> None:
    # models/families is a namespace package: the folder holds the families and nothing else
    import hourglass.models.families as builtin

    for root in builtin.__path__:
        for folder in sorted(Path(root).iterdir()):
            if (folder / "spec.py").is_file():
                importlib.import_module(f"{builtin.__name__}.{folder.name}.spec")


def _import_file(path: Path) -> None:
    """A plug-in given as a .py file, or as a package folder (relative imports work)."""
    name = f"hourglass_plugin_{path.stem if path.is_file() else path.name}"
    init = path if path.is_file() else path / "__init__.py"
    if not init.is_file():
        raise UserError(f"plug-in {path}: neither a .py file nor a folder with __init__.py")
    spec = importlib.util.spec_from_file_location(
        name, init, submodule_search_locations=None if path.is_file() else [str(path)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before it runs: its relative imports look it up
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise


def _load(what: str, load: Callable[[], object]) -> None:
    before = set(FAMILIES)
    LOADING.append(what)
    try:
        loaded = load()
        if isinstance(loaded, Family):  # an entry point may name the Family itself
            register(loaded)
    except UserError:
        raise
    except Exception as e:
        raise UserError(f"plug-in {what} failed to load: {type(e).__name__}: "
                        f"{' '.join(str(e).split())}") from None
    finally:
        LOADING.pop()
    if set(FAMILIES) == before and what not in _done:
        raise UserError(f"plug-in {what} registered no family: its module should call "
                        "hourglass.models.register(Family(...)) when imported")
    _done.add(what)


def load_plugin(spec: str) -> None:
    """Load a plug-in family: an importable module name, a .py file or a package folder. It is
    added to $HOURGLASS_PLUGINS, so the processes this one starts load it too."""
    _discover()
    _load_one(spec)


def _load_one(spec: str) -> None:
    if spec in _done:
        return
    path = Path(spec).expanduser()
    if path.suffix == ".py" or os.sep in spec or path.is_dir():
        if not path.exists():
            raise UserError(f"--plugin {spec}: no such file or folder")
        _load(spec, lambda: _import_file(path.resolve()))
    else:
        _load(spec, lambda: importlib.import_module(spec))
    listed = [p for p in os.environ.get(PLUGIN_ENV, "").split(os.pathsep) if p]
    if spec not in listed:
        os.environ[PLUGIN_ENV] = os.pathsep.join([*listed, spec])


def _discover() -> None:
    if "builtin" not in _done:
        _builtin()
        _done.add("builtin")
    if "entry points" not in _done:
        _done.add("entry points")
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            _load(f"{ep.name} ({ep.value})", ep.load)
    for spec in os.environ.get(PLUGIN_ENV, "").split(os.pathsep):
        if spec:
            _load_one(spec)


def get_family(name: str) -> Family:
    _discover()
    if name not in FAMILIES:
        raise UserError(f"unknown model family {name!r}; choose one of {', '.join(FAMILIES)} "
                        "(a plug-in family: install it, or pass --plugin MODULE_OR_PATH)")
    return FAMILIES[name]


def families() -> dict[str, Family]:
    _discover()
    return FAMILIES
