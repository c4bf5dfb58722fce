"""How a spec is merged with the profiles it extends: the merge rules, in one place.

`merge(base, overlay)` returns `overlay` laid over `base` ("later wins"). A file's `extends` are
merged in order, each over the previous, and the file itself is merged last. The rules:

1. Mappings merge deeply, key by key. That covers the named collections (`agents`, `toolchains`,
   `services`, `networks`, `volumes`: merged by name) and every nested mapping (`workspace`,
   `resources`, `security`, `healthcheck`, `labels`, `depends_on` in its mapping form, ...).
2. `env` merges by variable name, but each variable is replaced whole: `{from_host: X}` laid over
   `{value: "v", secret: true}` is just `{from_host: X}`.
3. Lists replace: lists of scalars (`command`, `networks`, `toolchains`, `cap_drop`, ...) and lists
   of mappings (`mounts`, `ports`, `hooks`) alike. To add one mount, repeat the inherited ones.
4. A scalar, or a value of a different kind, replaces the inherited one.
5. `null` removes an inherited key (`codex: null` under `agents:` drops that agent). When nothing is
   inherited under that key, the `null` stays and means what the schema says (for a network or
   volume: all defaults).
6. A toolchain's `tools` list is a set: a mapping laid over it (`{rustfmt: false, nextest: true}`)
   adds and removes tools instead of replacing the list (rule 4); a list still replaces.

Values keep their locations through the merge, so provenance points into the file that set them.
Inputs are never modified; unchanged subtrees are shared, not copied.
"""

from __future__ import annotations

from aifo.sessionspec.nodes import JsonPath, Node

CONTAINER_SECTIONS = ("agents", "toolchains", "services")


def _atomic(path: JsonPath) -> bool:
    """Paths whose mapping value is replaced whole instead of merged (rule 2)."""
    return len(path) == 4 and path[0] in CONTAINER_SECTIONS and path[2] == "env"


def _tool_set(base: Node, overlay: Node, path: JsonPath) -> Node:
    """Rule 6: an inherited `tools` list as a mapping `{tool: true}`, when a mapping lands on it."""
    if not (
        len(path) == 3
        and path[0] == "toolchains"
        and path[2] == "tools"
        and isinstance(base.value, list)
        and isinstance(overlay.value, dict)
    ):
        return base
    items = {str(n.value): Node(True, n.mark) for n in base.value}
    return Node(items, base.mark, base.key_mark)


def merge(base: Node, overlay: Node, path: JsonPath = ()) -> Node:
    """`overlay` laid over `base` by the rules above."""
    base = _tool_set(base, overlay, path)
    if not (isinstance(base.value, dict) and isinstance(overlay.value, dict)) or _atomic(path):
        return overlay
    merged: dict[str, Node] = dict(base.value)
    for key, child in overlay.value.items():
        inherited = merged.get(key)
        if inherited is None:
            merged[key] = child
        elif child.value is None:
            del merged[key]
        else:
            merged[key] = merge(inherited, child, (*path, key))
    return Node(merged, overlay.mark, overlay.key_mark, overlay.raw, overlay.note)
