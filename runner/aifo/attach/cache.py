"""What `aifo exec` needs of a spec, kept as plain data while the spec's own inputs are unchanged,
so attaching to a plain container costs about what `docker exec` costs rather than a full
load → validate → compile.

Only `aifo exec`'s quick path (aifo.commands.fastexec) and the completion of container names
read it; every other command compiles (status, plan, exec of a container with secrets or routes
all see exactly what compile makes of the current inputs, build contexts and engine included).

An entry is one JSON file in `<state>/cache/attach/`, `<key>.<session>.json`: a digest of each
input file of the spec (spec, profiles, .env), a keyed digest of each environment variable they
name (`${VAR}`, `from_host:`), and per container its graph id, Docker name, config hash and
whether an exec needs anything of the spec (`plain`: no secrets to read, no routes to serve).
Those facts come from the spec's inputs alone, which is what the entry is checked against; the
config hash is only compared to the container's label for the "applied from a different spec"
warning. `key` covers aifo's version, the spec's path, `--profile`s and `--session`: an edit of
the spec replaces its entry, and at most MAX_ENTRIES entries are kept (the oldest go). Sessions
with a secret written into the spec are never cached; `aifo destroy` removes a session's entries.
aifo.commands.attaching compiles for exec/run/shell/logs and `store`s the entry.

`targets.<session>.json` remembers the container `aifo.attach.lookup.locate` last found running
under each Docker name (its id and config-hash label), so an exec needs no inspect first.

Every file is read as untrusted input (aifo.state.private: never through a link, only ours and
private; then type-checked field by field): anything unexpected is a miss, never an error, and
nothing read here can run code. This module is light (no pathlib, dataclasses or typing at
import) for the quick path.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping, Sequence

TYPE_CHECKING = False  # not typing's: the fast path does not load typing (mypy knows the name)
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from aifo.attach.lookup import Target
    from aifo.model import Container, Session
    from aifo.model.observed import ObservedContainer

FORMAT = 3
MAX_ENTRIES = 64  # spec entries kept; past it the oldest go
CAP = 4 << 20  # bytes: an entry or targets file bigger than this is not ours
_ALWAYS = ("HOME",)  # `~` in mount sources and profile paths
_KEY_FILE = ".key"
_ENV_REF = rb"\$\{?([A-Za-z_][A-Za-z0-9_]*)|from_host:\s*[\"']?([A-Za-z_][A-Za-z0-9_]*)"
_HEX = frozenset("0123456789abcdef")


def folder(create: bool = False) -> str:
    """The cache's folder, checked (StateError when the state folder is not safe to use)."""
    from aifo.state.folder import checked_path

    return checked_path("cache", "attach", create=create)


def _is_entry(name: str) -> bool:
    """`<key>.<session>.json`: what eviction may remove (never `.key` or `targets.*`)."""
    key, _, rest = name.partition(".")
    return len(key) == 32 and _HEX.issuperset(key) and rest.endswith(".json")


def _key(spec_file: str, profiles: Sequence[str], session: str | None) -> str:
    from aifo import __version__

    h = hashlib.sha256()
    for part in (__version__, spec_file, "\0".join(profiles), session or ""):
        h.update(part.encode() + b"\0")
    return h.hexdigest()[:32]


def _private(path: str) -> bytes | None:
    """A private file's bytes; None when missing, not ours, a link or too big."""
    from aifo.state.private import read_bytes

    try:
        return read_bytes(path, CAP)
    except OSError:  # Unsafe is an OSError
        return None


def _secret(root: str, create: bool) -> bytes | None:
    path = os.path.join(root, _KEY_FILE)
    key = _private(path)
    if key is not None:
        return key if len(key) == 32 else None
    if not create:
        return None
    key = os.urandom(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return _secret(root, create=False)  # another process made it first
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key


def _env_digests(names: Sequence[str], key: bytes, environ: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in names:
        value = environ.get(name)
        mark = "unset" if value is None else hmac.new(key, value.encode(), "sha256").hexdigest()
        out[name] = mark
    return out


def _digest(path: str) -> str | None:
    """An input file's digest (the user's own files: read as they are, links followed)."""
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None


def _is_digest(value: object) -> bool:
    return type(value) is str and len(value) == 64 and _HEX.issuperset(value)


def _load_json(path: str) -> Any:
    try:
        return json.loads(_private(path) or b"null")
    except (ValueError, RecursionError):
        return None


def _valid_index(index: Any) -> bool:
    """The index's shape, field by field: anything else is a miss."""
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        return False
    sources, env, containers = index.get("sources"), index.get("env"), index.get("containers")
    if not isinstance(sources, dict) or not isinstance(env, dict):
        return False
    if not all(type(p) is str and _is_digest(d) for p, d in sources.items()):
        return False
    if not all(type(n) is str and (v == "unset" or _is_digest(v)) for n, v in env.items()):
        return False
    if not isinstance(containers, dict):
        return False
    for name, facts in containers.items():
        if type(name) is not str or not isinstance(facts, dict):
            return False
        if not all(type(facts.get(k)) is str for k in ("id", "docker_name", "config_hash")):
            return False
        if type(facts.get("plain")) is not bool:
            return False
    return True


def entry(
    spec_file: str | Path,
    profiles: Sequence[str] = (),
    session: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[str, dict[str, Any]] | None:
    """(the entry's session, its index) when nothing the spec was made of changed, else None."""
    env = os.environ if environ is None else environ
    spec = os.path.abspath(spec_file)
    key = _key(spec, profiles, session)
    try:
        root = folder()
        names = [n for n in os.listdir(root) if n.startswith(key + ".") and n.endswith(".json")]
    except Exception:  # noqa: BLE001 - OSError, StateError (an unsafe folder): a miss
        return None
    for name in names:
        index = _load_json(os.path.join(root, name))
        if not _valid_index(index):
            continue
        secret = _secret(root, create=False)
        if secret is None or spec not in index["sources"]:
            continue
        if any(_digest(p) != digest for p, digest in index["sources"].items()):
            continue
        if _env_digests(list(index["env"]), secret, env) != index["env"]:
            continue
        return name[len(key) + 1 : -len(".json")], index
    return None


def _has_literal_secret(session: Session) -> bool:
    return any(v.secret and v.value is not None for c in session.containers for v in c.env)


def store(
    spec_file: str | Path,
    profiles: Sequence[str],
    session: str | None,
    compiled: Session,
    sources: Sequence[Path],
    environ: Mapping[str, str] | None = None,
) -> None:
    """Remember what exec needs of a freshly compiled session; a failure to write only costs
    the next hit."""
    if _has_literal_secret(compiled):
        return
    import re

    from aifo.errors import StateError
    from aifo.state.private import evict, write_atomic

    env = os.environ if environ is None else environ
    spec = os.path.abspath(spec_file)
    try:
        root = folder(create=True)
        secret = _secret(root, create=True)
        if secret is None:
            return
        digests: dict[str, str] = {}
        names: set[str] = set(_ALWAYS)
        for source in {spec, *map(str, sources)}:
            with open(source, "rb") as handle:
                data = handle.read()
            digests[source] = hashlib.sha256(data).hexdigest()
            for match in re.finditer(_ENV_REF, data):
                names.add((match.group(1) or match.group(2)).decode())
        index = {
            "format": FORMAT,
            "sources": digests,
            "env": _env_digests(sorted(names), secret, env),
            "containers": {c.name: _exec_facts(c) for c in compiled.containers},
        }
        key = _key(spec, profiles, session)
        for old in os.listdir(root):  # this spec's entry (whichever session it named); pickles
            if old.startswith(key + ".") or old.endswith(".pickle"):  # left by older versions
                os.unlink(os.path.join(root, old))
        write_atomic(os.path.join(root, f"{key}.{compiled.name}.json"), json.dumps(index).encode())
        evict(root, MAX_ENTRIES, _is_entry)
    except (OSError, StateError):
        return


def _exec_facts(container: Container) -> dict[str, Any]:
    return {
        "id": container.id,
        "docker_name": container.docker_name,
        "config_hash": container.config_hash or "",
        "plain": not container.secrets
        and not container.routes
        and container.process_user == container.user,
    }


def container_names(spec_file: str | Path, session: str | None = None) -> list[str] | None:
    """The spec's container names from its entry, when it still holds (completion)."""
    found = entry(spec_file, (), session)
    return None if found is None else sorted(found[1]["containers"])


def forget(session: str) -> None:
    """`aifo destroy`: the session's entries and remembered containers go."""
    try:
        root = folder()
        for name in os.listdir(root):
            if name.endswith(f".{session}.json"):
                os.unlink(os.path.join(root, name))
    except Exception:  # noqa: BLE001 - nothing cached (or no usable folder): nothing to forget
        return


# -- the located container, so `aifo exec` can skip the check the exec create repeats ------------
def _targets_file(session: str) -> str:
    return os.path.join(folder(), f"targets.{session}.json")


def _known(session: str) -> dict[str, dict[str, str]]:
    """The targets file: Docker name → {id, hash (its config-hash label)}; {} when absent, not
    ours or malformed."""
    try:
        known = _load_json(_targets_file(session))
    except Exception:  # noqa: BLE001 - no usable folder: nothing known
        return {}
    if not isinstance(known, dict):
        return {}
    return {
        name: {"id": facts["id"], "hash": facts["hash"]}
        for name, facts in known.items()
        if type(name) is str
        and isinstance(facts, dict)
        and type(facts.get("id")) is str
        and type(facts.get("hash")) is str
    }


def recall(session: Session, container: Container) -> Target | None:
    """The target `lookup.locate` last found running and owned under this container's name:
    its id and labels never change, so an exec created on that id needs no inspect first (a
    404/409 from the exec create sends the caller back to `locate`). None when unknown."""
    from aifo.attach.lookup import Target
    from aifo.model import LABEL_HASH, LABEL_SESSION
    from aifo.model.observed import ObservedContainer

    known = _known(session.name).get(container.docker_name)
    if known is None:
        return None
    labels = {LABEL_SESSION: session.name}  # as `locate` found them: owned
    if known["hash"]:
        labels[LABEL_HASH] = known["hash"]
    observed = ObservedContainer(known["id"], container.docker_name, labels, state="running")
    stale = bool(container.config_hash) and observed.config_hash != container.config_hash
    return Target(container, observed, stale)


def remember(session: Session, target: Target) -> None:
    """Record a located, running target (a failure to write only costs the next inspect)."""
    _remember(session.name, {target.container.docker_name: target.observed})


def remember_applied(session: Session, verified: Mapping[str, ObservedContainer]) -> None:
    """After a committed apply: every container it verified (graph id -> as inspected, under its
    final Docker name or a replacement's temporary one: the id is what counts), so the first
    `aifo exec` after `aifo apply` needs no inspect either. A container not running is
    forgotten: the next exec looks it up."""
    _remember(
        session.name,
        {c.docker_name: verified[c.id] for c in session.containers if c.id in verified},
    )


def _remember(session: str, found: Mapping[str, ObservedContainer]) -> None:
    """Record each Docker name's container when it runs, forget it otherwise, in one write."""
    from aifo.errors import StateError
    from aifo.state.private import write_atomic

    known = _known(session)
    before = dict(known)
    for docker_name, observed in found.items():
        if observed.id and observed.running:
            known[docker_name] = {"id": observed.id, "hash": observed.config_hash or ""}
        else:
            known.pop(docker_name, None)
    if known == before:
        return
    try:
        folder(create=True)
        write_atomic(_targets_file(session), json.dumps(known).encode())
    except (OSError, StateError):
        return


class Ticket:
    """What `aifo exec NAME` needs to exec in a plain container without the compiled session:
    the container's graph id (for messages), Docker name, the id last located, and whether it was
    applied from another version of the spec."""

    __slots__ = ("container_id", "docker_name", "ref", "stale")

    def __init__(self, container_id: str, docker_name: str, ref: str, stale: bool) -> None:
        self.container_id, self.docker_name, self.ref, self.stale = (
            container_id, docker_name, ref, stale
        )  # fmt: skip


def exec_ticket(
    spec_file: str,
    session: str | None,
    name: str,
    environ: Mapping[str, str] | None = None,
) -> Ticket | None:
    """A Ticket for container `name` (spec name or graph id) when the cached entry still holds,
    the container needs no secrets or routes, and `locate` found it running before; else None
    (the caller takes the longer way, which reports any problem)."""
    found = entry(spec_file, (), session, environ)
    if found is None:
        return None
    entry_session, index = found
    containers: dict[str, dict[str, Any]] = index["containers"]
    facts = containers.get(name) or next((f for f in containers.values() if f["id"] == name), None)
    if not facts or facts["plain"] is not True:
        return None
    known = _known(entry_session).get(facts["docker_name"])
    if known is None:
        return None
    want = facts["config_hash"]
    stale = bool(want) and known["hash"] != want
    return Ticket(facts["id"], facts["docker_name"], known["id"], stale)
