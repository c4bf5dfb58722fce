"""The last compiled session of a spec, reused by exec/run/shell/logs/status while the spec and
every input it was made of are unchanged (keyed by their content), so attaching costs about
what `docker exec` costs rather than a full load → validate → compile.

An entry is two files in `<state>/cache/attach/`: `<key>.<session>.json`, the index (a digest of
each input file (spec, profiles, .env), a keyed digest of each environment variable the inputs
name (`${VAR}`, `from_host:`), and what `aifo exec` needs of each container), and
`<key>.<session>.pickle`, the compiled session. `key` covers aifo's version, the spec's path and
content, `--profile`s and `--session`. Any difference is a miss: the spec is compiled again and
the entry replaced. Sessions with a secret written into the spec are never cached (no secret
value is written here); `aifo destroy` removes the session's entries.

`aifo exec NAME` on a container without secrets or routes needs only the index and the
container `aifo.attach.lookup.locate` last found (`exec_ticket`): this module is light (no pathlib,
pickle or dataclasses at import) for that path (aifo.commands.fastexec).
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

FORMAT = 2
_ALWAYS = ("HOME",)  # `~` in mount sources and profile paths
_KEY_FILE = ".key"
_ENV_REF = rb"\$\{?([A-Za-z_][A-Za-z0-9_]*)|from_host:\s*[\"']?([A-Za-z_][A-Za-z0-9_]*)"


def folder() -> Path:
    from pathlib import Path

    return Path(_folder())


def _folder() -> str:
    from aifo.state.folder import state_folder

    return os.path.join(state_folder(), "cache", "attach")


def _key(spec_file: str, content: bytes, profiles: Sequence[str], session: str | None) -> str:
    from aifo import __version__

    h = hashlib.sha256()
    for part in (__version__, spec_file, "\0".join(profiles), session or ""):
        h.update(part.encode() + b"\0")
    h.update(content)
    return h.hexdigest()[:32]


def _secret(create: bool) -> bytes | None:
    path = os.path.join(_folder(), _KEY_FILE)
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        if not create:
            return None
    import secrets

    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
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


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def _digest(path: str) -> str | None:
    data = _read(path)
    return None if data is None else hashlib.sha256(data).hexdigest()


def _trusted(path: str) -> bool:
    """Only our own, private files are read."""
    from aifo.state.folder import is_private

    try:
        return is_private(os.stat(path))
    except OSError:
        return False


def _entry(
    spec_file: str | Path,
    profiles: Sequence[str],
    session: str | None,
    environ: Mapping[str, str] | None,
) -> tuple[str, dict[str, Any]] | None:
    """(the entry's path without its suffix, its index) when nothing it was made of changed."""
    env = os.environ if environ is None else environ
    spec = os.path.abspath(spec_file)
    content = _read(spec)
    if content is None:
        return None
    key = _key(spec, content, profiles, session)
    root = _folder()
    try:
        names = [n for n in os.listdir(root) if n.startswith(key + ".") and n.endswith(".json")]
    except OSError:
        return None
    for name in names:
        path = os.path.join(root, name)
        if not _trusted(path):
            continue
        try:
            index = json.loads(_read(path) or b"")
            if not isinstance(index, dict) or index.get("format") != FORMAT:
                continue
            sources: dict[str, str] = index["sources"]
            env_marks: dict[str, str] = index["env"]
            secret = _secret(create=False)
            if secret is None:
                continue
            if any(_digest(p) != digest for p, digest in sources.items()):
                continue
            if _env_digests(list(env_marks), secret, env) != env_marks:
                continue
        except (ValueError, TypeError, KeyError, AttributeError):
            continue  # a damaged entry is a miss
        return path[: -len(".json")], index
    return None


def lookup(
    spec_file: str | Path,
    profiles: Sequence[str] = (),
    session: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Session | None:
    """The cached session when nothing it was made of changed, else None."""
    found = _entry(spec_file, profiles, session, environ)
    if found is None:
        return None
    stem = found[0] + ".pickle"
    if not _trusted(stem):
        return None
    import pickle

    try:
        compiled: Session = pickle.loads(_read(stem) or b"")
    except Exception:  # noqa: BLE001 - a damaged entry is a miss
        return None
    return compiled


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
    """Remember a freshly compiled session; any failure to write only costs the next hit."""
    if _has_literal_secret(compiled):
        return
    import pickle
    import re
    from pathlib import Path

    env = os.environ if environ is None else environ
    spec = Path(os.path.abspath(spec_file))
    try:
        root = folder()
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        secret = _secret(create=True)
        assert secret is not None
        digests: dict[str, str] = {}
        names: set[str] = set(_ALWAYS)
        for source in {spec, *sources}:
            data = source.read_bytes()
            digests[str(source)] = hashlib.sha256(data).hexdigest()
            for match in re.finditer(_ENV_REF, data):
                names.add((match.group(1) or match.group(2)).decode())
        index = {
            "format": FORMAT,
            "sources": digests,
            "env": _env_digests(sorted(names), secret, env),
            "containers": {c.name: _exec_facts(c) for c in compiled.containers},
        }
        key = _key(str(spec), spec.read_bytes(), profiles, session)
        for old in (*root.glob(f"{key}.*.json"), *root.glob(f"{key}.*.pickle")):
            old.unlink(missing_ok=True)
        stem = f"{key}.{compiled.name}"
        _write(root, root / f"{stem}.pickle", pickle.dumps(compiled, pickle.HIGHEST_PROTOCOL))
        _write(root, root / f"{stem}.json", json.dumps(index).encode())  # the entry's commit
    except OSError:
        return


def _write(root: Path, final: Path, data: bytes) -> None:
    tmp = root / f".{final.name}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, final)


def _exec_facts(container: Container) -> dict[str, Any]:
    """What `exec_ticket` needs: `plain` when an exec needs nothing of the spec but the container
    (no secrets to read, no routes to serve)."""
    return {
        "id": container.id,
        "docker_name": container.docker_name,
        "config_hash": container.config_hash,
        "plain": not container.secrets
        and not container.routes
        and container.process_user == container.user,
    }


def load_session(
    spec_file: str | Path, profiles: Sequence[str] = (), session: str | None = None
) -> Session:
    """The compiled session for a command that only reads: from the cache when it still holds,
    else compiled (creating no session state) and cached."""
    found = lookup(spec_file, profiles, session)
    if found is not None:
        return found
    from aifo.pipeline import load

    compiled = load(spec_file, profiles, session, writes_state=False)
    store(spec_file, profiles, session, compiled.session, compiled.sources)
    return compiled.session


# -- the located container, so `aifo exec` can skip the check the exec create repeats ------------
def _targets_file(session: str) -> str:
    return os.path.join(_folder(), f"targets.{session}.json")


def _known(session: str) -> dict[str, Any]:
    """The targets file: Docker name → {id, hash (its config-hash label)}; {} when absent or not
    ours."""
    path = _targets_file(session)
    if not _trusted(path):
        return {}
    try:
        known = json.loads(_read(path) or b"")
    except ValueError:
        return {}
    return known if isinstance(known, dict) else {}


def recall(session: Session, container: Container) -> Target | None:
    """The target `lookup.locate` last found running and owned under this container's name:
    its id and labels never change, so an exec created on that id needs no inspect first (a
    404/409 from the exec create sends the caller back to `locate`). None when unknown."""
    from aifo.attach.lookup import Target
    from aifo.model import LABEL_HASH, LABEL_SESSION
    from aifo.model.observed import ObservedContainer

    try:
        known = _known(session.name)[container.docker_name]
        ident, config_hash = str(known["id"]), known["hash"]
    except (TypeError, KeyError, AttributeError, ValueError):
        return None
    labels = {LABEL_SESSION: session.name}  # as `locate` found them: owned
    if config_hash:
        labels[LABEL_HASH] = str(config_hash)
    observed = ObservedContainer(ident, container.docker_name, labels, state="running")
    stale = bool(container.config_hash) and observed.config_hash != container.config_hash
    return Target(container, observed, stale)


def remember(session: Session, target: Target) -> None:
    """Record a located, running target (a failure to write only costs the next inspect)."""
    if not target.observed.id or not target.observed.running:
        return
    known = _known(session.name)
    entry = {"id": target.observed.id, "hash": target.observed.config_hash}
    if known.get(target.container.docker_name) == entry:
        return
    known[target.container.docker_name] = entry
    try:
        root = folder()
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        _write(root, root / f"targets.{session.name}.json", json.dumps(known).encode())
    except OSError:
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
    found = _entry(spec_file, (), session, environ)
    if found is None:
        return None
    stem, index = found
    try:
        containers: dict[str, dict[str, Any]] = index["containers"]
        facts = containers.get(name) or next(
            (f for f in containers.values() if f.get("id") == name), None
        )
        if not facts or facts.get("plain") is not True:
            return None
        docker_name = str(facts["docker_name"])
        known = _known(stem.rsplit(".", 1)[-1])[docker_name]
        want = str(facts.get("config_hash") or "")
        stale = bool(want) and known.get("hash") != want
        return Ticket(str(facts["id"]), docker_name, str(known["id"]), stale)
    except (TypeError, KeyError, AttributeError, ValueError):
        return None
