"""The README's API reference, generated from ``audit.__all__`` (signatures and docstrings).

``.venv/bin/python -m tests.update_readme`` rewrites it; ``tests/test_contracts.py`` checks it.
"""

from __future__ import annotations

import inspect
import re

import audit

API_BLOCK = re.compile(r"<!-- api:start -->\n(.*?)<!-- api:end -->", re.S)


def _summary(obj: object) -> str:
    doc = inspect.getdoc(obj) or ""
    return " ".join(doc.split("\n\n")[0].split())


def _signature(name: str, obj: object) -> str:
    if inspect.isclass(obj):
        return f"class {name}"
    try:
        signature = inspect.signature(obj)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return name
    params = [
        p.replace(default="...") if p.default is not p.empty and len(repr(p.default)) > 40 else p
        for p in signature.parameters.values()
    ]
    sig = str(signature.replace(parameters=params)).replace("'", "")
    prefix = "async " if inspect.iscoroutinefunction(obj) else ""
    return f"{prefix}{name}{sig}"


def api_markdown() -> str:
    """One row per public name: signature and the first paragraph of its docstring."""
    lines = ["| name | what it does |", "|---|---|"]
    for name in audit.__all__:
        if name == "__version__":
            continue
        obj = getattr(audit, name)
        signature = _signature(name, obj).replace("|", r"\|")
        summary = _summary(obj).replace("|", r"\|")
        lines.append(f"| `{signature}` | {summary} |")
    return "\n".join(lines)
