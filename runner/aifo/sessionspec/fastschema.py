"""A fast yes/no JSON Schema check, compiled once into closures, for the common (valid) case.

jsonschema explains failures well but costs ~1 µs per keyword per value, too slow for a spec of a
thousand containers. This compiles the subset of Draft 2020-12 our schema uses into plain Python
closures. It only answers "valid?"; when the answer is no, jsonschema produces the messages.
An unsupported keyword makes `compile_schema` raise, and callers then use jsonschema alone.
Tests check that both agree on generated and mutated specs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]

_IGNORED = {
    "$schema", "$id", "$defs", "title", "description", "default", "examples", "x-format",
}  # fmt: skip


class Unsupported(Exception):
    """The schema uses a keyword this checker does not implement."""


def _is(name: str) -> Check:
    if name == "string":
        return lambda v: isinstance(v, str)
    if name == "boolean":
        return lambda v: isinstance(v, bool)
    if name == "null":
        return lambda v: v is None
    if name == "object":
        return lambda v: isinstance(v, dict)
    if name == "array":
        return lambda v: isinstance(v, list)
    if name == "number":
        return lambda v: isinstance(v, int | float) and not isinstance(v, bool)
    if name == "integer":
        return lambda v: (
            (isinstance(v, int) and not isinstance(v, bool))
            or (isinstance(v, float) and v.is_integer())
        )
    raise Unsupported(f"type {name}")


def equal(a: Any, b: Any) -> bool:
    """JSON Schema equality: booleans never equal numbers; 1 equals 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return False
    return bool(a == b)


def _gate(schema: Any) -> Check:
    """A necessary condition for `schema` (its type and first required key), cheap to test."""
    if not isinstance(schema, dict) or "type" not in schema:
        return lambda v: True
    names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    types = [_is(n) for n in names]
    required = schema.get("required") or []
    if names == ["object"] and required:
        key = required[0]
        return lambda v: isinstance(v, dict) and key in v
    return lambda v: any(t(v) for t in types)


def _unique(items: list[Any]) -> bool:
    for i, item in enumerate(items):
        for other in items[i + 1 :]:
            if equal(item, other):
                return False
    return True


class Compiler:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.refs: dict[str, Check] = {}

    def ref(self, ref: str) -> Check:
        if ref in self.refs:
            return self.refs[ref]
        if not ref.startswith("#/"):
            raise Unsupported(f"$ref {ref}")
        cell: list[Check] = []
        self.refs[ref] = lambda v: cell[0](v)  # resolved below; allows recursive refs
        node: Any = self.root
        for part in ref[2:].split("/"):
            node = node[part]
        cell.append(self.compile(node))
        self.refs[ref] = cell[0]
        return cell[0]

    def compile(self, schema: Any) -> Check:  # noqa: C901 - one branch per keyword, flat
        if schema is True:
            return lambda v: True
        if schema is False:
            return lambda v: False
        if not isinstance(schema, dict):
            raise Unsupported(repr(schema))
        checks: list[Check] = []
        unknown = set(schema) - _IGNORED - _KEYWORDS
        if unknown:
            raise Unsupported(", ".join(sorted(unknown)))
        if "$ref" in schema:
            checks.append(self.ref(schema["$ref"]))
        if "type" in schema:
            names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            tests = [_is(n) for n in names]
            checks.append(lambda v: any(t(v) for t in tests))
        if "enum" in schema:
            options = list(schema["enum"])
            checks.append(lambda v: any(equal(v, o) for o in options))
        if "const" in schema:
            wanted = schema["const"]
            checks.append(lambda v: equal(v, wanted))
        checks += self.strings(schema) + self.numbers(schema) + self.objects(schema)
        checks += self.arrays(schema)
        if "oneOf" in schema:
            checks.append(self.one_of(schema["oneOf"]))
        if "anyOf" in schema:
            alternatives = [self.compile(b) for b in schema["anyOf"]]
            checks.append(lambda v: any(b(v) for b in alternatives))
        if "allOf" in schema:
            every = [self.compile(b) for b in schema["allOf"]]
            checks.append(lambda v: all(b(v) for b in every))
        if not checks:
            return lambda v: True
        if len(checks) == 1:
            return checks[0]
        if len(checks) == 2:
            first, second = checks
            return lambda v: first(v) and second(v)
        return lambda v: all(c(v) for c in checks)

    def one_of(self, schemas: list[Any]) -> Check:
        """Exactly one branch valid. A cheap gate (type, first required key) skips branches
        that cannot match, which for discriminated unions leaves one branch to evaluate."""
        branches: list[tuple[Check, Check]] = []
        for sub in schemas:
            target = sub
            while isinstance(target, dict) and "$ref" in target and len(target) == 1:
                node: Any = self.root
                for part in target["$ref"][2:].split("/"):
                    node = node[part]
                target = node
            branches.append((_gate(target), self.compile(sub)))

        def check(v: Any) -> bool:
            valid = 0
            for gate, branch in branches:
                if gate(v) and branch(v):
                    valid += 1
            return valid == 1

        return check

    def strings(self, schema: dict[str, Any]) -> list[Check]:
        out: list[Check] = []
        if "pattern" in schema:
            search = re.compile(schema["pattern"]).search
            out.append(lambda v: not isinstance(v, str) or search(v) is not None)
        if "minLength" in schema:
            low = schema["minLength"]
            out.append(lambda v: not isinstance(v, str) or len(v) >= low)
        if "maxLength" in schema:
            high = schema["maxLength"]
            out.append(lambda v: not isinstance(v, str) or len(v) <= high)
        return out

    def numbers(self, schema: dict[str, Any]) -> list[Check]:
        out: list[Check] = []

        def num(v: Any) -> bool:
            return isinstance(v, int | float) and not isinstance(v, bool)

        if "minimum" in schema:
            low = schema["minimum"]
            out.append(lambda v: not num(v) or v >= low)
        if "maximum" in schema:
            high = schema["maximum"]
            out.append(lambda v: not num(v) or v <= high)
        if "exclusiveMinimum" in schema:
            above = schema["exclusiveMinimum"]
            out.append(lambda v: not num(v) or v > above)
        return out

    def objects(self, schema: dict[str, Any]) -> list[Check]:
        out: list[Check] = []
        props = {k: self.compile(s) for k, s in schema.get("properties", {}).items()}
        extra = schema.get("additionalProperties", True)
        extra_check = self.compile(extra) if extra not in (True, False) else None
        names = self.compile(schema["propertyNames"]) if "propertyNames" in schema else None
        required = list(schema.get("required", ()))
        min_props = schema.get("minProperties")
        if not (props or extra is not True or names or required or min_props is not None):
            return out

        def check(v: Any) -> bool:
            if not isinstance(v, dict):
                return True
            for key in required:
                if key not in v:
                    return False
            if min_props is not None and len(v) < min_props:
                return False
            for key, value in v.items():
                if names is not None and not names(key):
                    return False
                sub = props.get(key)
                if sub is not None:
                    if not sub(value):
                        return False
                elif extra is False:
                    return False
                elif extra_check is not None and not extra_check(value):
                    return False
            return True

        out.append(check)
        return out

    def arrays(self, schema: dict[str, Any]) -> list[Check]:
        out: list[Check] = []
        if "items" in schema:
            item = self.compile(schema["items"])
            out.append(lambda v: not isinstance(v, list) or all(item(x) for x in v))
        if schema.get("uniqueItems"):
            out.append(lambda v: not isinstance(v, list) or _unique(v))
        if "minItems" in schema:
            low = schema["minItems"]
            out.append(lambda v: not isinstance(v, list) or len(v) >= low)
        if "maxItems" in schema:
            high = schema["maxItems"]
            out.append(lambda v: not isinstance(v, list) or len(v) <= high)
        return out


_KEYWORDS = {
    "$ref", "type", "enum", "const", "pattern", "minLength", "maxLength", "minimum", "maximum",
    "exclusiveMinimum", "properties", "additionalProperties", "propertyNames", "required",
    "minProperties", "items", "uniqueItems", "minItems", "maxItems", "oneOf", "anyOf", "allOf",
}  # fmt: skip


def compile_schema(schema: dict[str, Any]) -> Check:
    """A closure answering "is this instance valid?" Raises Unsupported for unknown keywords."""
    return Compiler(schema).compile(schema)
