"""Read one YAML file into located `Node`s, reporting every problem with FILE:LINE:COL.

Built on yaml's composer (libyaml when present) so each value keeps its start mark. Besides
syntax errors this catches what plain `yaml.safe_load` silently accepts: duplicate keys,
non-string keys, tabs, unquoted dates and base-60 numbers (`22:22` is 1342 in YAML 1.1).
Booleans spelled yes/no/on/off, and numbers whose value reads differently from their text (`3.10`,
`0755`, `0x1F`, `1_000`, `+1`, `.inf`), keep their raw text, so later stages can explain them or
keep them as written. Messages about values under `env:` never echo the value (it may be secret).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from aifo.issue import Issue
from aifo.location import Location
from aifo.sessionspec.nodes import JsonPath, Mark, Node, format_path

# Deeply nested or alias-expanded documents are refused rather than recursed into forever.
# Composing costs about 450 bytes of memory per node, so a document is refused at MAX_NODES
# (about 120 MB) before it is composed: a large text is first counted from its parse events,
# which are dropped as they come (aifo.host.files caps the text itself).
MAX_DEPTH = 200
MAX_NODES = 250_000
COUNT_FIRST_BYTES = 256 * 1024  # below this a text cannot hold MAX_NODES nodes worth fearing

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_INT = "tag:yaml.org,2002:int"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_FLOAT = "tag:yaml.org,2002:float"
# Python refuses int <-> str conversions over 4,300 digits; numbers that long are refused first.
MAX_NUMBER_CHARS = 4300
MAX_INT_BITS = 14_000  # about 4,200 decimal digits
_DECIMAL = re.compile(r"^[-+]?(0|[1-9][0-9]*)\Z")
_SCALAR_TAGS = {
    _STR,
    _INT,
    _NULL,
    _BOOL,
    _FLOAT,
}


class _Builder:
    def __init__(self, display: str) -> None:
        import yaml

        self.yaml = yaml
        self.display = display
        self.issues: list[Issue] = []
        self.count = 0
        self.constructor = yaml.constructor.SafeConstructor()
        self.resolver = yaml.resolver.Resolver()
        self.implicit_first = frozenset(yaml.resolver.Resolver.yaml_implicit_resolvers)
        self.active: set[int] = set()
        self.typed: dict[str, str] = {}  # plain scalar text -> its implicit tag (specs repeat)

    def tag(self, node: Any) -> str:
        """YAML 1.1 implicit typing of plain scalars, skipped for text that cannot be typed.

        The document is composed without implicit typing (libyaml's base loader); doing it here
        only where the first character could start a bool/int/float/null/date is much cheaper.
        A plain scalar with an explicit `!!str` tag is typed implicitly too (a known limit).
        """
        value = node.value
        if node.tag != _STR or node.style or (value and value[0] not in self.implicit_first):
            return str(node.tag)
        tag = self.typed.get(value)
        if tag is None:
            resolved: Any = self.resolver.resolve(  # type: ignore[no-untyped-call]
                self.yaml.ScalarNode, value, (True, False)
            )
            tag = self.typed[value] = str(resolved)
        return tag

    def loc(self, node: Any) -> Mark:
        mark = node.start_mark
        return (self.display, mark.line + 1, mark.column + 1)

    def issue(self, node: Any, path: JsonPath, message: str, hint: str = "") -> None:
        where = Location(*self.loc(node))
        self.issues.append(Issue(where, format_path(path), message, hint or None))

    def build(self, node: Any, path: JsonPath) -> Node:
        self.count += 1
        if len(path) > MAX_DEPTH or self.count > MAX_NODES:
            self.issue(
                node,
                path,
                "the document is nested or aliased too deeply"
                if len(path) > MAX_DEPTH
                else _TOO_MANY,
            )
            raise _Abort
        yaml = self.yaml
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        if id(node) in self.active:
            self.issue(node, path, "an alias refers to a node that contains it (a cycle)")
            return Node(None, self.loc(node))
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                if node.tag != _SEQ:
                    self.issue(node, path, f"unsupported YAML tag {node.tag}")
                items = [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
                return Node(items, self.loc(node))
            if node.tag != _MAP:
                self.issue(node, path, f"unsupported YAML tag {node.tag}")
            return Node(self.mapping(node, path), self.loc(node))
        finally:
            self.active.discard(id(node))

    def mapping(self, node: Any, path: JsonPath) -> dict[str, Node]:
        out: dict[str, Node] = {}
        merged: dict[str, Node] = {}
        scalar_type = self.yaml.ScalarNode
        typed_first = self.implicit_first
        display = self.display
        for key_node, value_node in node.value:
            # Fast path: a plain or quoted string key holding a string value (most of a spec).
            if (
                type(key_node) is scalar_type
                and key_node.tag == _STR
                and (key_node.style or (key_node.value and key_node.value[0] not in typed_first))
                and key_node.value not in out
                and type(value_node) is scalar_type
                and value_node.tag == _STR
                and (
                    value_node.style
                    or (value_node.value and value_node.value[0] not in typed_first)
                )
                and len(path) < MAX_DEPTH
            ):
                vm, km = value_node.start_mark, key_node.start_mark
                out[key_node.value] = Node(
                    value_node.value,
                    (display, vm.line + 1, vm.column + 1),
                    (display, km.line + 1, km.column + 1),
                )
                self.count += 1
                continue
            if isinstance(key_node, scalar_type) and self.tag(key_node) == _MERGE:
                merged.update(self.merge_sources(value_node, path))
                continue
            key = self.key(key_node, path)
            if key is None:
                continue
            child_path = (*path, key)
            if key in out:
                first = out[key].key_loc
                self.issue(
                    key_node,
                    child_path,
                    f"duplicate key {key!r}"
                    + (f" (first set at line {first.line})" if first else ""),
                    "a later duplicate would silently win; keep one",
                )
                continue
            child = self.build(value_node, child_path)
            child.key_mark = self.loc(key_node)
            out[key] = child
        for key, child in merged.items():
            out.setdefault(key, child)
        return out

    def merge_sources(self, node: Any, path: JsonPath) -> dict[str, Node]:
        """YAML merge keys (`<<: *defaults`): explicit keys win over merged ones."""
        sources = node.value if isinstance(node, self.yaml.SequenceNode) else [node]
        out: dict[str, Node] = {}
        for source in reversed(sources):
            if not isinstance(source, self.yaml.MappingNode):
                self.issue(source, path, "a merge key (<<) needs a mapping or a list of mappings")
                continue
            built = self.build(source, path)
            out.update(built.value)
        return out

    def key(self, node: Any, path: JsonPath) -> str | None:
        if not isinstance(node, self.yaml.ScalarNode):
            self.issue(node, path, "a key must be a plain string, not a mapping or a list")
            return None
        tag = self.tag(node)
        if tag == _STR:
            return str(node.value)
        self.issue(
            node,
            (*path, node.value),
            f"the key {node.value!r} is read by YAML 1.1 as a {_kind(tag)}, not a string",
            f'quote it: "{node.value}"',
        )
        return str(node.value)

    def scalar(self, node: Any, path: JsonPath) -> Node:
        tag = self.tag(node)
        if tag == _STR:  # the common case, kept cheap
            return Node(node.value, self.loc(node))
        text = node.value
        raw = text if not node.style else None
        # Messages about a value never echo it under `env:` (it may be a secret or its default).
        said = "this value" if "env" in path else text
        if tag == _BOOL:
            value = text.lower() in ("yes", "true", "on")
            if raw is not None and raw.lower() not in ("true", "false"):
                return Node(value, self.loc(node), raw=raw)  # yes/no/on/off: explained later
            return Node(value, self.loc(node))
        if tag == _NULL:
            return Node(None, self.loc(node))
        if tag in (_INT, _FLOAT) and len(text) > MAX_NUMBER_CHARS:
            self.issue(
                node,
                path,
                f"a number written with {len(text)} characters is too long (at most "
                f"{MAX_NUMBER_CHARS})",
                "quote it if it is text",
            )
            return Node(str(text), self.loc(node))
        if tag == _INT and _DECIMAL.match(text):
            number = int(text)
            return Node(number, self.loc(node), raw=None if str(number) == text else text)
        if tag == _TIMESTAMP:
            self.issue(
                node,
                path,
                f"the unquoted date {text} is read by YAML 1.1 as a date, not a string"
                if said == text
                else "this unquoted value is read by YAML 1.1 as a date, not a string",
                f'quote it: "{text}"' if said == text else "quote it (in double quotes)",
            )
            return Node(str(text), self.loc(node))
        if tag not in _SCALAR_TAGS:
            self.issue(node, path, f"unsupported YAML tag {tag}")
            return Node(str(text), self.loc(node))
        try:
            node.tag = tag
            constructed = self.constructor.construct_object(node)
        except (ValueError, self.yaml.YAMLError) as exc:
            detail = "" if said != text else f": {exc}"
            self.issue(node, path, f"cannot read this value{detail}")
            return Node(str(text), self.loc(node))
        if isinstance(constructed, int) and constructed.bit_length() > MAX_INT_BITS:
            self.issue(node, path, "this number is too large", "quote it if it is text")
            return Node(str(text), self.loc(node))
        if tag == _INT and raw is not None and ":" in raw:
            self.issue(
                node,
                path,
                f"{raw} is read by YAML 1.1 as the base-60 number {constructed}, not a string"
                if said == text
                else "this unquoted value is read by YAML 1.1 as a base-60 number, not a string",
                f'quote it: "{raw}"' if said == text else "quote it (in double quotes)",
            )
            constructed = raw
        elif raw is not None and _rendered(constructed) != raw:
            # 3.10 -> 3.1, 0755 -> 493, 0x1F -> 31, 1_000 -> 1000, +1 -> 1, .inf -> inf: the
            # source text is kept so values that reach the container stay as written.
            return Node(constructed, self.loc(node), raw=raw)
        return Node(constructed, self.loc(node))


def _rendered(value: Any) -> str:
    """How a number reaches Docker when it is not kept as written (aifo.values.scalars)."""
    return str(value)


class _Abort(Exception):
    pass


_TOO_MANY = (
    f"the document has more than {MAX_NODES} values (aliases expanded); a spec has a few "
    "thousand at most"
)


def _too_many_nodes(text: str, display: str) -> Issue | None:
    """Count `text`'s nodes from its parse events, holding none of them; an issue at the node
    past MAX_NODES, else None. Syntax errors are left to the composer."""
    import yaml

    counted = (yaml.ScalarEvent, yaml.AliasEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent)
    parser = _loader_class()(text)
    count = 0
    try:
        while parser.check_event():
            event = parser.get_event()
            if isinstance(event, counted):
                count += 1
                if count > MAX_NODES:
                    mark = event.start_mark
                    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
                    return Issue(
                        Location(display, line, col),
                        "",
                        _TOO_MANY,
                        "split the data out of the spec; it is not meant to carry bulk data",
                    )
    except (yaml.YAMLError, ValueError, TypeError):
        return None
    finally:
        parser.dispose()
    return None


def _kind(tag: str) -> str:
    return {
        "tag:yaml.org,2002:bool": "boolean",
        "tag:yaml.org,2002:int": "number",
        "tag:yaml.org,2002:float": "number",
        "tag:yaml.org,2002:null": "null",
        _TIMESTAMP: "date",
    }.get(tag, tag)


def _syntax_issue(exc: Exception, text: str, display: str) -> Issue:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    loc = Location(display, mark.line + 1, mark.column + 1) if mark else Location(display, 1, 1)
    lines = text.splitlines()
    line = lines[loc.line - 1] if 0 < loc.line <= len(lines) else ""
    if "\t" in line[: loc.col] or "tab" in problem:
        col = line.find("\t") + 1 if "\t" in line else loc.col
        return Issue(
            Location(display, loc.line, col),
            "",
            "YAML syntax error: a tab character; YAML indentation must use spaces",
            "replace the tab with spaces",
        )
    message = f"YAML syntax error: {problem}"
    if context:
        message += f" ({context})"
    return Issue(loc, "", message)


@functools.cache
def _loader_class() -> Any:
    """libyaml's base loader with a trivial resolver: the composer asks it for every node's tag,
    and the default one is a costly Python call; implicit typing is done later (`_Builder.tag`).
    """
    import yaml

    base: Any = getattr(yaml, "CBaseLoader", yaml.BaseLoader)
    tags = {yaml.ScalarNode: _STR, yaml.SequenceNode: _SEQ, yaml.MappingNode: _MAP}

    def resolve(self: Any, kind: Any, value: Any, implicit: Any) -> str:
        return tags[kind]

    return type("_AifoLoader", (base,), {"resolve": resolve})


def load_text(text: str, display: str) -> tuple[Node | None, list[Issue]]:
    """Compose `text` into a located tree. Returns (None, issues) when it cannot be read at all."""
    import yaml

    loader_cls = _loader_class()
    if text.startswith("\ufeff"):
        text = text[1:]
    if len(text) > COUNT_FIRST_BYTES:
        too_many = _too_many_nodes(text, display)
        if too_many is not None:
            return None, [too_many]
    try:
        loader = loader_cls(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        return None, [_syntax_issue(exc, text, display)]
    except (ValueError, TypeError) as exc:  # libyaml: e.g. unacceptable characters
        return None, [Issue(Location(display, 1, 1), "", f"YAML syntax error: {exc}")]
    if root is None:
        return None, []
    builder = _Builder(display)
    try:
        node = builder.build(root, ())
    except (_Abort, RecursionError):
        return None, builder.issues or [Issue(Location(display, 1, 1), "", "document too deep")]
    return node, builder.issues


def read_file(path: Path, display: str) -> tuple[Node | None, list[Issue]]:
    """Read and compose a file; an unreadable file is one located issue.

    Only a regular file under the size cap is read (a FIFO or a device never blocks or floods)."""
    from aifo.host.files import SPEC_FILE_CAP, UnreadableFile, read_bounded

    try:
        text = read_bounded(path, SPEC_FILE_CAP).decode("utf-8")
    except FileNotFoundError:
        return None, [Issue(None, "", f"{display}: no such file")]
    except (OSError, UnicodeDecodeError, UnreadableFile) as exc:
        return None, [Issue(Location(display, 1, 1), "", f"cannot read the file: {exc}")]
    return load_text(text, display)
