"""Loading ``module:attribute`` specs given on the command line."""

from __future__ import annotations

import importlib
import sys
from typing import Any


class LoadError(Exception):
    """The spec does not name an importable attribute."""


def load_object(spec: str) -> Any:
    """Import ``module:attribute`` (the current directory is importable, as with ``python -m``)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise LoadError(f"expected module:attribute, got {spec!r}")
    if "" not in sys.path:
        sys.path.insert(0, "")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise LoadError(f"cannot import {module_name!r}: {exc}") from exc
    try:
        obj: Any = module
        for part in attr.split("."):
            obj = getattr(obj, part)
    except AttributeError as exc:
        raise LoadError(f"{module_name!r} has no attribute {attr!r}") from exc
    return obj
