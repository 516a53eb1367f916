"""Finding one-file extensions: the modules of a built-in package plus those of plugin packages.

Rules and targets are one module each. The built-in ones are the public modules of their package
(names not starting with ``_``); a plugin distribution adds more by naming a package under an
entry point group (``b2b_preflight.rules``, ``b2b_preflight.targets``), the standard Python plugin
mechanism (https://packaging.python.org/en/latest/specifications/entry-points/).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from importlib.metadata import entry_points
from types import ModuleType

__all__ = ["discover"]


def discover(package: str, group: str) -> Iterator[ModuleType]:
    """The public modules of ``package``, then of every package registered under ``group``."""
    yield from _modules(package)
    for point in sorted(entry_points(group=group), key=lambda p: p.name):
        yield from _modules(point.value)


def _modules(package: str) -> Iterator[ModuleType]:
    root = importlib.import_module(package)
    paths = getattr(root, "__path__", None)
    if paths is None:  # a plugin may name a single module
        yield root
        return
    for info in sorted(pkgutil.iter_modules(paths), key=lambda i: i.name):
        if not info.name.startswith("_"):
            yield importlib.import_module(f"{package}.{info.name}")
