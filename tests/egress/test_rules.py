"""`egress.allow` patterns (aifo.egress.rules) and the schema's pattern agree."""

from __future__ import annotations

import json
import re

import pytest

from aifo.egress.rules import DEFAULT_PORTS, PATTERN, PatternError, Rule, parse, parse_all
from aifo.sessionspec.shipped import schema_path


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("api.example.com:443", Rule("api.example.com", False, (443,))),
        ("API.Example.com", Rule("api.example.com", False, DEFAULT_PORTS)),
        ("*.example.org", Rule("example.org", True, DEFAULT_PORTS)),
        ("*.example.org:8443", Rule("example.org", True, (8443,))),
        ("10.0.0.5:8080", Rule("10.0.0.5", False, (8080,))),
        ("allowed.test", Rule("allowed.test", False, DEFAULT_PORTS)),
    ],
)
def test_parse(text: str, rule: Rule) -> None:
    assert parse(text) == rule
    assert parse(rule.text) == rule


@pytest.mark.parametrize(
    "text",
    ["", "*", "*.", "http://x.org", "x.org:0", "x.org:65536", "x.org:", "-x.org", "a b", "x.*.org",
     "x.org/path", "a" * 64 + ".org", ".".join(["a" * 60] * 5)],
)  # fmt: skip
def test_rejects(text: str) -> None:
    with pytest.raises(PatternError):
        parse(text)


def test_parse_all_drops_duplicates_in_order() -> None:
    rules = parse_all(["b.org", "a.org:443", "B.org"])
    assert [r.text for r in rules] == ["b.org", "a.org:443"]


def test_schema_pattern_is_the_same_language() -> None:
    schema = json.loads(schema_path().read_text())
    pattern = re.compile(schema["$defs"]["egress"]["properties"]["allow"]["items"]["pattern"])
    samples = ["api.example.com:443", "*.Example.org", "10.0.0.5", "a.b:1", "*", "x y", "x.org:"]
    for text in samples:
        assert bool(pattern.match(text)) == bool(PATTERN.match(text)), text
