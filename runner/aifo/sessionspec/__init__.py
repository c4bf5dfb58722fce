"""The spec stage: aifo.yaml + profiles + .env -> one validated, located `ResolvedSpec`.

    load (YAML with marks) -> interpolate ${VAR} -> extends/profiles merged -> JSON Schema
    -> semantic checks -> finalize (paths made absolute, mount policy, host variables)

Pure apart from reading files (the spec, its profiles, `.env`, mount sources' existence): no
Docker here. Every problem is collected and raised together as one `SpecError`. The data shape
is documented in docs/spec-shape.md; the language in docs/spec.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aifo.errors import SpecError
from aifo.gcpause import gc_paused
from aifo.issue import Issue
from aifo.location import Location
from aifo.sessionspec.nodes import JsonPath, nearest

if TYPE_CHECKING:
    from aifo.sessionspec.hostfacts import HostFacts

__all__ = ["ResolvedSpec", "resolve", "load_all"]


@dataclass(frozen=True)
class ResolvedSpec:
    """A spec with its profiles merged, variables interpolated and checked."""

    data: dict[str, Any]  # the shape of docs/spec-shape.md
    file: Path  # absolute path of the main spec file
    base_dir: Path  # its directory
    provenance: Mapping[JsonPath, Location]  # JSON path -> where that value was set
    sources: tuple[Path, ...]  # every file read: spec, profiles, .env (for --watch)
    warnings: tuple[Issue, ...]  # e.g. allow: opt-ins used
    notes: Mapping[JsonPath, str] = field(default_factory=dict)  # e.g. "from $HOME"

    def location(self, *path: str | int) -> Location | None:
        """The nearest known location for `path` (the value itself, else its closest parent)."""
        return nearest(self.provenance, path)


_ORDER = ("version", "session", "workspace", "networks", "volumes", "agents", "toolchains")


def _home(environ: Mapping[str, str]) -> Path:
    home = environ.get("HOME")
    return Path(home) if home else Path.home()


def resolve(
    file: str | Path,
    profiles: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    *,
    host: HostFacts | None = None,
    state_dir: Path | None = None,
) -> ResolvedSpec:
    """Load, merge, interpolate, validate and finalize a spec. Raises SpecError with ALL issues.

    `host`: what the host-path policy compares against (this host's facts by default);
    `state_dir`: aifo's state folder, which no host path may expose (the caller knows it)."""
    with gc_paused():
        return _resolve(file, profiles, environ, host, state_dir)


def _resolve(
    file: str | Path,
    profiles: Sequence[str],
    environ: Mapping[str, str] | None,
    host: HostFacts | None,
    state_dir: Path | None,
) -> ResolvedSpec:
    from aifo.sessionspec import dotenv, finalize, hostfacts, schema, semantics
    from aifo.sessionspec.nodes import plain
    from aifo.sessionspec.profiles import Loader
    from aifo.sessionspec.prune import outside, prune
    from aifo.sessionspec.secrets import redact, secret_values

    process_env = dict(os.environ if environ is None else environ)
    from aifo.host.files import SPEC_FILE_CAP, file_problem

    path = Path(os.path.abspath(file))
    problem = file_problem(path, SPEC_FILE_CAP)
    if problem is not None and problem.startswith("no such file"):
        raise SpecError([Issue(None, "", f"{file}: no such spec file{problem[12:]}")])
    if problem is not None:
        raise SpecError(
            [Issue(None, "", f"{file}: not a spec file: {problem}", "name a regular YAML file")]
        )
    base_dir = path.parent
    home = _home(process_env)
    facts = host or hostfacts.host_facts(home, process_env, state_dir)
    loader = Loader(spec_dir=base_dir, environ={}, home=home, facts=facts)
    env, env_file = dotenv.environment(
        base_dir, process_env, loader.display(base_dir / ".env"), facts=facts
    )
    loader.environ = env
    tree = loader.tree(path, tuple(profiles))
    issues = list(loader.issues)
    if tree is None:  # nothing was read: no secret could be named
        raise SpecError(issues or [Issue(Location(loader.display(path), 1, 1), "", "empty spec")])
    flat = plain(tree)
    located = {i.path for i in issues}
    schema_issues, failed = schema.check_paths(flat)
    # one message per spot: a YAML-level issue (e.g. a duplicate key) explains the schema's
    issues += [i for i in schema_issues if i.path not in located or not i.path]
    warnings: list[Issue] = list(loader.warnings)
    # Semantic checks rely on the schema's shape: they run on the parts that passed it.
    checked = prune(flat, failed) if failed else (flat, set())
    if checked is not None:
        valid, cuts = checked
        found, warned = semantics.check(valid)
        found = [i for i in found if i.path not in located]  # one message per spot
        more, warned_more = finalize.finalize(
            valid,
            spec_dir=base_dir,
            files=loader.files,
            home=loader.home,
            environ=env,
            facts=facts,
        )
        issues += outside([*found, *more], cuts)
        if not schema_issues:
            warnings += [*warned, *warned_more]
    # A built-in profile's own opt-in (python's root hook) is no advice to the user, who never
    # wrote that file: plan's security summary shows what it allows, once.
    warnings = [w for w in warnings if not (w.location and loader.is_builtin(w.location.file))]
    if issues:
        raise SpecError(redact(issues, secret_values(flat.data)))
    data = {key: flat.data[key] for key in _ORDER if key in flat.data}
    data.update(flat.data)
    sources = [*loader.sources, *([env_file] if env_file else [])]
    return ResolvedSpec(
        data=data,
        file=path,
        base_dir=base_dir,
        provenance=flat.values,
        sources=tuple(dict.fromkeys(sources)),
        warnings=tuple(sorted(warnings, key=Issue.sort_key)),
        notes=flat.notes,
    )


def load_all(
    files: Sequence[str | Path],
    profiles: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    *,
    state_dir: Path | None = None,
) -> list[tuple[str, ResolvedSpec | SpecError]]:
    """Resolve several specs independently (for `aifo validate A B C`)."""
    out: list[tuple[str, ResolvedSpec | SpecError]] = []
    for file in files:
        try:
            out.append((str(file), resolve(file, profiles, environ, state_dir=state_dir)))
        except SpecError as error:
            out.append((str(file), error))
    return out
