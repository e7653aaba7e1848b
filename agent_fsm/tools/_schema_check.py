"""Checking a tool's arguments against a JSON Schema someone else wrote (an MCP server's, say).

A ``@tool`` function's arguments are checked by structuring them into its parameters'
types (:mod:`agent_fsm.arguments`). A remote tool has only its schema, so a real JSON Schema
validator (``jsonschema``, whichever draft the schema names; 2020-12 when it names none) checks
them. Its errors are then put in the same words as a local tool's, so that a model reads one
language whatever serves the tool::

    $.a: expected integer, got string "5"
    $.address.zip: missing required field (expected integer)
    $.colour: unexpected field (allowed fields: a, address)
    $.unit: expected one of "km", "mi", got string "yards"
    $.days: 0 is less than the minimum of 1          (other keywords: jsonschema's own message)

``jsonschema`` is imported when the first schema is compiled, never at import time.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from typing import Any

from ..messages import JSONValue
from .arguments import ArgumentError, capped, describe_choices, describe_value, json_path, load_arguments

__all__ = ["SchemaCheck"]


class SchemaCheck:
    """A compiled schema: call it with the model's arguments to get them back as a ``dict``.

    Args:
        schema: the tool's input schema.

    Raises:
        ValueError: for a schema that is not valid JSON Schema.
    """

    __slots__ = ("_order", "_validator")

    def __init__(self, schema: Mapping[str, Any]) -> None:
        from jsonschema import Draft202012Validator, SchemaError, validators

        cls = validators.validator_for(dict(schema), default=Draft202012Validator)
        try:
            cls.check_schema(dict(schema))
        except SchemaError as exc:
            raise ValueError(f"not a valid JSON Schema: {exc.message}") from None
        self._validator = cls(dict(schema))
        properties = schema.get("properties")
        self._order = {name: i for i, name in enumerate(properties if isinstance(properties, Mapping) else ())}

    @staticmethod
    def of(schema: Mapping[str, Any]) -> SchemaCheck:
        """The compiled schema, shared by equal schemas (compiling one costs a millisecond)."""
        return _compiled(json.dumps(schema))  # key order kept: it is the order problems are listed in

    def __call__(self, arguments: JSONValue) -> dict[str, Any]:
        """The arguments object, checked.

        Raises:
            ArgumentError: for arguments that are not a JSON object or do not fit the schema,
                one line per problem (at most ``MAX_PROBLEMS``).
        """
        loaded = load_arguments(arguments)
        found: list[str] = []
        for error in self._validator.iter_errors(loaded):
            for line in _problems(error):
                if line not in found:
                    found.append(line)
        if found:
            # in the order of the schema's fields, as a local tool lists its parameters
            found.sort(key=lambda line: self._order.get(_field_of(line), len(self._order)))
            raise ArgumentError(capped(found))
        return loaded


@functools.lru_cache(maxsize=256)
def _compiled(schema_json: str) -> SchemaCheck:
    return SchemaCheck(json.loads(schema_json))


def _problems(error: Any) -> list[str]:
    """One ``jsonschema`` error as problem lines, in :mod:`agent_fsm.arguments`' words."""
    place = list(error.absolute_path)
    path = json_path(place)
    keyword, expected, value = error.validator, error.validator_value, error.instance
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    if keyword == "type":
        return [f"{path}: expected {_types(expected)}, got {describe_value(value)}"]
    if keyword == "required" and isinstance(value, dict):
        properties = schema.get("properties", {})
        lines = []
        for key in expected:
            if key in value:
                continue
            spec = properties.get(key)
            kind = spec.get("type") if isinstance(spec, Mapping) else None
            note = f" (expected {_types(kind)})" if kind else ""
            lines.append(f"{json_path([*place, key])}: missing required field{note}")
        return lines
    if keyword == "additionalProperties" and expected is False and isinstance(value, dict):
        allowed = list(schema.get("properties", {}))
        patterns = list(schema.get("patternProperties", {}))
        extra = sorted(k for k in value if k not in allowed and not any(re.search(p, k) for p in patterns))
        listed = ", ".join(allowed) or "none"
        return [f"{json_path([*place, key])}: unexpected field (allowed fields: {listed})" for key in extra]
    if keyword == "enum":
        return [f"{path}: expected {describe_choices(list(expected))}, got {describe_value(value)}"]
    if keyword == "const":
        return [f"{path}: expected {describe_choices([expected])}, got {describe_value(value)}"]
    if keyword in ("anyOf", "oneOf") and all(isinstance(s, Mapping) and "type" in s for s in expected):
        kinds = " or ".join(_types(s["type"]) for s in expected)
        return [f"{path}: expected {kinds}, got {describe_value(value)}"]
    return [f"{path}: {error.message}"]


_FIELD = re.compile(r'^\$(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[("(?:[^"\\]|\\.)*")\])')


def _field_of(line: str) -> str | None:
    """The top-level field a problem line is about (``$.a...`` or ``$["a b"]...``), if any."""
    match = _FIELD.match(line)
    if match is None:
        return None
    if match.group(1) is not None:
        return match.group(1)
    return str(json.loads(match.group(2)))


def _types(kind: Any) -> str:
    return " or ".join(kind) if isinstance(kind, list) else str(kind)
