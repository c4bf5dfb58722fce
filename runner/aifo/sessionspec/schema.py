"""JSON Schema validation (schema/session.schema.json) turned into located, readable issues.

Every error is reported, at the place the offending value (or unknown key) was written. Unknown
keys get a did-you-mean; `oneOf` picks the branch the value was evidently meant for (by type, or by
its discriminating key such as `source`/`volume`/`tmpfs`) and otherwise lists each branch's reason.
Values under a secret env entry are never echoed.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aifo.issue import Issue
from aifo.masking import MASK
from aifo.sessionspec.nodes import JsonPath, Plain, format_path, nearest
from aifo.sessionspec.secrets import is_secret_entry
from aifo.suggest import did_you_mean

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

_KIND = {
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "a boolean (true/false)",
    "object": "a mapping",
    "array": "a list",
    "null": "null",
}


@functools.cache
def schema() -> dict[str, Any]:
    from aifo.sessionspec.shipped import schema_path

    loaded: dict[str, Any] = json.loads(schema_path().read_text(encoding="utf-8"))
    return loaded


@functools.cache
def validator() -> Draft202012Validator:
    """Compiled once per process: building a validator is the expensive part."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema())


def kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _deref(sub: Any) -> Any:
    while isinstance(sub, dict) and "$ref" in sub:
        ref: str = sub["$ref"]
        node: Any = schema()
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        sub = node
    return sub


class _Reporter:
    def __init__(self, plain: Plain) -> None:
        self.plain = plain
        self.issues: list[Issue] = []
        self.paths: list[JsonPath] = []
        self.secret_prefixes = _secret_entries(plain.data)

    def secret(self, path: JsonPath) -> bool:
        return any(path[: len(p)] == p for p in self.secret_prefixes)

    def show(self, value: Any, path: JsonPath) -> str:
        """A short, safe rendering of a value for a message."""
        if self.secret(path):
            return MASK
        if isinstance(value, dict | list):
            return kind_of(value)
        text = json.dumps(value, default=str)
        return text if len(text) <= 60 else text[:57] + "..."

    def add(
        self, path: JsonPath, message: str, hint: str | None = None, *, key: bool = False
    ) -> None:
        loc = (self.plain.keys.get(path) if key else None) or nearest(self.plain.values, path)
        self.issues.append(Issue(loc, format_path(path), message, hint))
        self.paths.append(path)

    def trap(self, path: JsonPath, value: Any) -> str | None:
        raw = self.plain.raws.get(path)
        if raw is None:
            return None
        if self.secret(path):
            return "YAML 1.1 retypes this unquoted value; quote it (in double quotes)"
        if isinstance(value, bool):
            boolean = str(value).lower()
            return f'YAML 1.1 reads the unquoted {raw} as the boolean {boolean}; quote it: "{raw}"'
        if isinstance(value, int | float):
            return f'YAML 1.1 reads the unquoted {raw} as the number {value}; quote it: "{raw}"'
        return None

    # -- one jsonschema error -> issues ------------------------------------------------------

    def report(self, error: ValidationError) -> None:
        path: JsonPath = tuple(error.absolute_path)
        validator_name = str(error.validator)
        value = error.instance
        handler = getattr(self, f"on_{validator_name}", None)
        if handler is not None:
            handler(error, path, value)
            return
        message = error.message
        if self.secret(path):
            message = f"invalid value ({validator_name}: {_vv(error)!r})"
        self.add(path, message)

    def on_additionalProperties(self, error: ValidationError, path: JsonPath, value: Any) -> None:
        sub = error.schema if isinstance(error.schema, dict) else {}
        known = sorted(sub.get("properties", {}))
        for key in value:
            if key in known:
                continue
            listing = "allowed keys: " + ", ".join(known) if known else None
            hint = did_you_mean(key, known, listing)
            self.add((*path, key), f"unknown key {key!r}", hint, key=True)

    def on_required(self, error: ValidationError, path: JsonPath, value: Any) -> None:
        missing = [k for k in _vv(error) if k not in value]
        for key in missing:
            self.add(path, f"missing required key {key!r}")

    def on_type(self, error: ValidationError, path: JsonPath, value: Any) -> None:
        wanted = _vv(error) if isinstance(_vv(error), list) else [_vv(error)]
        expected = " or ".join(_KIND.get(str(w), str(w)) for w in wanted)
        message = f"expected {expected}, got {kind_of(value)}"
        if not isinstance(value, dict | list) and value is not None:
            message += f" {self.show(value, path)}"
        hint = self.trap(path, value)
        if hint is None and "string" in wanted and isinstance(value, int | float):
            hint = "quote the value to keep it a string"
        self.add(path, message, hint)

    def on_enum(self, error: ValidationError, path: JsonPath, value: Any) -> None:
        options = [str(o) for o in _vv(error)]
        message = f"{self.show(value, path)} is not one of: " + ", ".join(options)
        hint = self.trap(path, value)
        if hint is None and isinstance(value, str):
            hint = did_you_mean(value, options)
        self.add(path, message, hint)

    def on_const(self, error: ValidationError, path: JsonPath, value: Any) -> None:
        wanted = json.dumps(_vv(error))
        self.add(path, f"must be {wanted}, got {self.show(value, path)}")

    def on_pattern(self, error: ValidationError, path: JsonPath, value: Any) -> None:
        sub = error.schema if isinstance(error.schema, dict) else {}
        fmt = sub.get("x-format") or f"a string matching {_vv(error)}"
        self.add(path, f"{self.show(value, path)} is not valid: expected {fmt}")

    def on_uniqueItems(self, error: ValidationError, path: JsonPath, value: Any) -> None:
        seen: set[str] = set()
        for i, item in enumerate(value):
            marker = json.dumps(item, sort_keys=True, default=str)
            if marker in seen:
                self.add((*path, i), f"duplicate entry {self.show(item, (*path, i))}")
            seen.add(marker)

    def on_propertyNames(self, error: ValidationError, path: JsonPath, value: Any) -> None:
        self.add(path, f"invalid name {self.show(value, path)}")

    def on_oneOf(self, error: ValidationError, path: JsonPath, value: Any) -> None:
        branches = [_deref(b) for b in _vv(error)]
        by_branch: dict[int, list[ValidationError]] = {}
        for sub in error.context or ():
            by_branch.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
        if not by_branch:  # valid under several branches
            self.add(path, "matches more than one allowed form; make it unambiguous")
            return
        chosen = _pick_branch(branches, value)
        if chosen is not None and chosen in by_branch:
            for sub in by_branch[chosen]:
                self.report(sub)
            return
        typed = [b for b in branches if isinstance(b, dict) and _types_match(b, value)]
        if not typed:
            titles = [str(b.get("title", "?")) for b in branches if isinstance(b, dict)]
            self.add(path, f"expected {_either(titles)}, got {kind_of(value)}")
            return
        lines = [f"{self.show(value, path)} matches none of the allowed forms:"]
        for index, branch in enumerate(branches):
            title = branch.get("title", f"form {index + 1}") if isinstance(branch, dict) else ""
            reasons = by_branch.get(index, [])
            reasons.sort(key=_priority)
            reason = self.brief(reasons[0], path) if reasons else "ok"
            lines.append(f"  - as {title}: {reason}")
        self.add(path, "\n".join(lines))

    on_anyOf = on_oneOf

    def brief(self, error: ValidationError, base: JsonPath) -> str:
        """One branch's reason, as a short line (its path relative to the oneOf value)."""
        inner = _Reporter.__new__(_Reporter)
        inner.plain, inner.issues, inner.secret_prefixes = self.plain, [], self.secret_prefixes
        inner.paths = []
        inner.report(error)
        if not inner.issues:
            return error.message
        first = inner.issues[0]
        full = tuple(error.absolute_path)
        rel = format_path(full[len(base) :]) if len(full) > len(base) else ""
        text = first.message.splitlines()[0]
        return f"{rel}: {text}" if rel else text


def _pick_branch(branches: list[Any], value: Any) -> int | None:
    """The one branch the value was evidently meant for: by its discriminating key, or by type."""
    candidates: list[int] = []
    for index, branch in enumerate(branches):
        if not isinstance(branch, dict):
            continue
        types = branch.get("type")
        types = types if isinstance(types, list) else [types] if types else []
        if isinstance(value, dict):
            required = branch.get("required") or []
            if "object" in types and required and required[0] in value:
                candidates.append(index)
        elif types and any(_is_type(value, t) for t in types):
            candidates.append(index)
    return candidates[0] if len(candidates) == 1 else None


def _priority(error: ValidationError) -> int:
    order = ("type", "required", "additionalProperties")
    name = str(error.validator)
    return order.index(name) if name in order else len(order)


def _either(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _types_match(branch: dict[str, Any], value: Any) -> bool:
    types = branch.get("type")
    if types is None:
        return True
    return any(_is_type(value, t) for t in (types if isinstance(types, list) else [types]))


def _is_type(value: Any, name: str) -> bool:
    if name == "string":
        return isinstance(value, str)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if name == "array":
        return isinstance(value, list)
    if name == "object":
        return isinstance(value, dict)
    return value is None


def _secret_entries(data: Any) -> list[JsonPath]:
    """Paths of env entries that hold (or are meant to hold) a secret."""
    found: list[JsonPath] = []
    if not isinstance(data, dict):
        return found
    for role in ("agents", "toolchains", "services"):
        containers = data.get(role)
        if not isinstance(containers, dict):
            continue
        for name, container in containers.items():
            env = container.get("env") if isinstance(container, dict) else None
            if not isinstance(env, dict):
                continue
            for key, entry in env.items():
                if isinstance(entry, dict) and (is_secret_entry(entry) or "secret" in entry):
                    found.append((role, name, "env", key))
    return found


@functools.cache
def quick_check() -> Callable[[Any], bool] | None:
    """The compiled yes/no check (aifo.sessionspec.fastschema), or None if the schema outgrew it."""
    from aifo.sessionspec.fastschema import Unsupported, compile_schema

    try:
        return compile_schema(schema())
    except Unsupported:
        return None


def check(plain: Plain) -> list[Issue]:
    """Validate `plain.data` against the schema; every error becomes one or more located issues."""
    return check_paths(plain)[0]


def check_paths(plain: Plain) -> tuple[list[Issue], list[JsonPath]]:
    """`check`, and the JSON path of every issue (what the semantic checks must skip)."""
    quick = quick_check()
    if quick is not None and quick(plain.data):
        return [], []
    reporter = _Reporter(plain)
    for error in validator().iter_errors(plain.data):
        reporter.report(error)
    # e.g. one `required` error per missing key
    return list(dict.fromkeys(reporter.issues)), list(dict.fromkeys(reporter.paths))


def _vv(error: ValidationError) -> Any:
    """The failing keyword's value (typed loosely: jsonschema marks it possibly unset)."""
    return error.validator_value
