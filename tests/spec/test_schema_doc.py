"""The JSON Schema itself: valid Draft 2020-12, every property described, unknown keys refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from jsonschema import Draft202012Validator

from aifo.sessionspec.shipped import schema_path


def _schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(schema_path().read_text(encoding="utf-8"))
    return loaded


def _subschemas(node: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from _subschemas(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _subschemas(value, f"{where}/{i}")


def test_schema_is_valid_draft_2020_12() -> None:
    Draft202012Validator.check_schema(_schema())


def test_every_property_has_a_description() -> None:
    missing = []
    for where, node in _subschemas(_schema()):
        for name, prop in node.get("properties", {}).items() if "properties" in node else ():
            if "description" not in prop and "$ref" not in prop:
                missing.append(f"{where}/properties/{name}")
    assert missing == []


def test_every_object_with_properties_refuses_unknown_keys() -> None:
    open_objects = [
        where
        for where, node in _subschemas(_schema())
        if "properties" in node and node.get("additionalProperties") is not False
    ]
    assert open_objects == []


def test_every_definition_is_described() -> None:
    assert all("description" in d for d in _schema()["$defs"].values())
