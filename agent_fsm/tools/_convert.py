"""What a tool returned, as result content (a value JSON cannot hold becomes an error result).

Apart from :mod:`~agent_fsm.tools.outcomes` because it needs the codec (cattrs) and the logger,
which a driver that only reports failed calls (the sync driver) does not load.
"""

from __future__ import annotations

import json
from typing import Any

from ..codec import to_json_value
from ..messages import Image, Text, ToolResultContent
from ..observe.logger import get_logger
from ..observe.redact import Redactor
from ..request import ToolOutput
from .outcomes import not_serializable

__all__ = ["converted", "to_output"]


def to_output(value: Any) -> ToolOutput:
    """What a tool returned, as result content.

    A ``ToolOutput`` is kept as it is (a tool may report an error itself); a ``str`` passes
    through; a ``Text`` or ``Image`` part, or a non-empty list of them, becomes those parts;
    anything else becomes canonical JSON text (keys sorted) through the codec, so attrs classes
    and library values have their usual JSON shape.

    Raises:
        TypeError, ValueError: for a value JSON cannot hold (``Tool.run`` reports it as an error).
    """
    if type(value) is str:  # the most common result first, by its exact type
        return ToolOutput((Text(value),))
    if isinstance(value, ToolOutput):
        return value
    if isinstance(value, str):
        return ToolOutput((Text(value),))
    if isinstance(value, Text | Image):
        return ToolOutput((value,))
    if isinstance(value, list | tuple) and value and all(isinstance(v, Text | Image) for v in value):
        parts: tuple[ToolResultContent, ...] = tuple(value)
        return ToolOutput(parts)
    text = json.dumps(to_json_value(value), ensure_ascii=False, sort_keys=True, allow_nan=False)
    return ToolOutput((Text(text),))


def converted(name: str, value: Any, redactor: Redactor | None = None) -> ToolOutput:
    """What a tool (or a tool server) returned, as result content; a value JSON cannot hold is
    an error output for the call (see :func:`to_output`)."""
    try:
        return to_output(value)
    except (TypeError, ValueError, RecursionError) as exc:
        clean = redactor if redactor is not None else Redactor()
        get_logger(component="tools").warning("tool result not serializable", tool=name, exception=clean.traceback(exc))
        return not_serializable(name, exc, clean)
