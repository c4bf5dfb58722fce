"""The import rules of docs/architecture.md, read from the source with `ast`.

A unit is a package under runner/aifo/ (`sessionspec/`, `engine/`, ...) or a top-level module
(`pipeline`, `errors`, ...). Imports inside functions count the same as top-level ones.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from functools import cache
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1] / "runner" / "aifo"

# unit -> units it must never import (directly)
_ABOVE = {"apply/", "ui/", "watch/", "commands/", "pipeline"}  # the transaction and composition
FORBIDDEN: dict[str, set[str]] = {
    # the spec stage is a pipeline of its own: YAML in, located errors or a resolved spec out
    "sessionspec/": _ABOVE | {"engine/", "plan/", "compile/", "state/", "attach/", "route/"},
    # the adapter knows the contract and the model, nothing of the stages that use it
    "engine/": _ABOVE | {"sessionspec/", "plan/", "compile/", "attach/", "route/"},
    # pure stages
    "model/": _ABOVE | {"engine/", "sessionspec/", "plan/", "compile/", "state/", "host/"},
    "compile/": _ABOVE | {"engine/", "plan/"},
    "plan/": _ABOVE | {"compile/", "attach/"},  # engine/: observe's protocol only
    "host/": _ABOVE | {"engine/", "sessionspec/", "plan/", "compile/", "state/", "model/"},
    "state/": _ABOVE | {"engine/", "sessionspec/", "plan/", "compile/", "attach/"},
    # the transaction talks to the Engine protocol; it renders nothing
    "apply/": {"sessionspec/", "ui/", "watch/", "commands/", "pipeline"},
    # rendering only: no engine, no composition
    "ui/": {"engine/", "commands/", "pipeline", "sessionspec/"},
    # the watch loop gets its stages injected (aifo.commands.apply_watch wires them)
    "watch/": {"engine/", "apply/", "ui/", "commands/", "pipeline"},
    # fork mode: git steps (through engine/git.py, the one place that starts processes) and its
    # transaction over apply/'s journal; the engine side (apply, destroy) is injected by commands/
    "fork/": {"ui/", "watch/", "commands/", "pipeline"},
}
# the top level keeps the entry point, the CLI, the pipeline and the values every stage shares
TOP_LEVEL = {
    "__init__", "__main__", "entry", "cli", "pipeline", "discovery",
    "errors", "issue", "location", "suggest", "masking", "gcpause",
}  # fmt: skip
# only these may name the concrete adapter (aifo.engine.client); the rest use aifo.engine.api
ADAPTER_USERS = {"engine/", "pipeline", "commands/"}
# only the adapter starts processes or loads the engine's client library
ENGINE_ONLY = {"subprocess", "python_on_whales"}
# composition roots are imported by the CLI alone
COMMANDS_USERS = {"cli", "entry", "commands/"}


def _unit(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "aifo"
    return f"{parts[1]}/" if (ROOT / parts[1]).is_dir() else parts[1]


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def imports() -> dict[str, set[str]]:
    """module -> every module name it imports (aifo's own, and foreign top-level names)."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in sorted(ROOT.rglob("*.py")):
        module = _module(path)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found[module].update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found[module].add(node.module)
                if node.module == "aifo":  # `from aifo import pipeline`
                    subs = (a.name for a in node.names)
                    found[module].update(f"aifo.{s}" for s in subs if not s.startswith("__"))
            elif isinstance(node, ast.ImportFrom) and node.level:
                raise AssertionError(f"{module}: relative import (use `aifo.…`)")
    return found


def unit_edges() -> dict[tuple[str, str], set[str]]:
    """(unit, imported unit) -> the modules that import across it."""
    edges: dict[tuple[str, str], set[str]] = defaultdict(set)
    for module, names in imports().items():
        for name in names:
            if name.startswith("aifo.") and _unit(name) != _unit(module):
                edges[_unit(module), _unit(name)].add(module)
    return edges


def test_the_rules_see_the_packages() -> None:
    units = {u for pair in unit_edges() for u in pair}
    assert {"sessionspec/", "engine/", "apply/", "plan/", "ui/", "commands/", "pipeline"} <= units


def test_the_top_level_keeps_a_dozen_modules_at_most() -> None:
    top = {path.stem for path in ROOT.glob("*.py")}
    assert top == TOP_LEVEL
    assert len(TOP_LEVEL) <= 12


def test_no_forbidden_imports() -> None:
    bad = [
        f"{', '.join(sorted(mods))} ({src}) imports {dst}"
        for (src, dst), mods in unit_edges().items()
        if dst in FORBIDDEN.get(src, set())
    ]
    assert bad == []


def test_no_cycles_between_packages() -> None:
    graph = nx.DiGraph(list(unit_edges()))
    cycles = [" → ".join([*c, c[0]]) for c in nx.simple_cycles(graph)]
    assert cycles == []


def test_only_the_pipeline_and_commands_name_the_concrete_engine() -> None:
    users = {
        module
        for module, names in imports().items()
        if "aifo.engine.client" in names and _unit(module) not in ADAPTER_USERS
    }
    assert users == set()


def test_only_the_engine_adapter_runs_processes_or_the_engine_library() -> None:
    users = {
        f"{module}: {name}"
        for module, names in imports().items()
        for name in names
        if name.split(".")[0] in ENGINE_ONLY and _unit(module) != "engine/"
    }
    assert users == set()


def test_the_engine_adapter_never_writes_to_our_output() -> None:
    writers = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "engine").rglob("*.py")
        if "sys.stdout" in path.read_text() or "print(" in path.read_text()
    ]
    assert writers == []


def test_commands_are_composition_roots_nobody_else_imports() -> None:
    users = {
        module
        for (src, dst), modules in unit_edges().items()
        if dst == "commands/" and src not in COMMANDS_USERS
        for module in modules
    }
    assert users == set()


def test_no_test_hooks_in_the_product() -> None:
    hooks = [
        str(path.relative_to(ROOT))
        for path in ROOT.rglob("*.py")
        if "AIFO_TEST_" in path.read_text() or path.stem in ("testing", "testhooks")
    ]
    assert hooks == []


# concept -> (a regex that marks a copy of it, the one module allowed to hold it)
HOMES: dict[str, tuple[str, str]] = {
    "did-you-mean": (r"get_close_matches\(", "suggest.py"),
    "the GC pause": (r"gc\.disable\(\)", "gcpause.py"),
    "the mask": (r"""["']\*\*\*["']""", "masking.py"),
    "progress callbacks": (r"^Emit = ", "apply/events.py"),
    "user notes": (r"^Notify = ", "apply/events.py"),
    "a path into the spec": (r"^JsonPath = ", "location.py"),
    "the label contract": (r"LABEL_SESSION: session,", "model/__init__.py"),
    "a label key": (r"""["']io\.aifo\.""", "model/__init__.py"),
    "reading secrets": (r"^SecretReader = ", "state/secrets.py"),
}


def test_one_home_per_helper() -> None:
    copies = sorted(
        f"{concept}: {path.relative_to(ROOT)}"
        for path in ROOT.rglob("*.py")
        for concept, (marker, home) in HOMES.items()
        if re.search(marker, path.read_text(), re.M) and path.relative_to(ROOT).as_posix() != home
    )
    assert copies == []


def test_every_dataclass_says_what_it_is() -> None:
    # A dataclass without a docstring also costs start-up: `dataclass` then builds one from
    # `inspect.signature` at import (~50 us a class on the apply path's ~60).
    missing = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"
        for path in sorted(ROOT.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ClassDef)
        and any(ast.unparse(d).startswith("dataclass") for d in node.decorator_list)
        and ast.get_docstring(node) is None
    ]
    assert missing == []


def test_the_engine_choice_is_read_in_one_place() -> None:
    # `--engine` reaches engine.choose through `select`, AIFO_ENGINE through its `engine_name`;
    # nobody else reads the variable (the facts cache, doctor and `ls` ask engine_name)
    readers = sorted(
        path.relative_to(ROOT).as_posix()
        for path in ROOT.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and node.value == "AIFO_ENGINE"
    )
    assert readers == ["engine/choose.py"]


def _defines_something(path: Path) -> bool:
    """A package's `__init__` that holds more than a docstring, imports and `__all__`."""
    body = ast.parse(path.read_text(encoding="utf-8")).body
    quiet = (ast.Import, ast.ImportFrom, ast.Expr, ast.If)  # docstring, TYPE_CHECKING blocks
    for node in body:
        if isinstance(node, ast.Assign) and all(
            isinstance(t, ast.Name) and t.id in ("__all__", "TYPE_CHECKING") for t in node.targets
        ):
            continue
        if not isinstance(node, quiet):
            return True
    return False


def _sections(doc: str) -> dict[str, str]:
    """`### `pkg/` ...` section of docs/architecture.md -> its text; "" -> the top level's."""
    out: dict[str, str] = {}
    for part in re.split(r"^### ", doc, flags=re.M)[1:]:
        head = re.match(r"`(\w+)/`", part)
        out[head.group(1) if head else ""] = part.split("\n## ", 1)[0]
    top = doc.split("## Top level", 1)
    out[""] = top[1].split("\n## ", 1)[0] if len(top) > 1 else ""
    return out


def test_every_module_is_named_on_the_architecture_page() -> None:
    doc = (ROOT.parents[1] / "docs" / "architecture.md").read_text(encoding="utf-8")
    sections = _sections(doc)
    missing = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        package = rel.parts[0] if len(rel.parts) > 1 else ""
        name = path.stem
        if name == "__init__" and package and not _defines_something(path):
            continue  # a docstring and re-exports: the package's own line says it
        if package and f"{package}/{name}" in doc:  # by path, e.g. plan/drift
            continue
        text = sections.get(package, "")
        # by file name, or as `name` in its package's own section
        if re.search(rf"`{re.escape(name)}(\.py)?`", text):
            continue
        missing.append(rel.as_posix())
    assert missing == []
