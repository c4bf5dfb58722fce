"""The last compiled session of a spec, reused by exec/run/shell/logs/status while the spec and
every input it was made of are unchanged (keyed by their content), so attaching costs about
what `docker exec` costs rather than a full load → validate → compile.

An entry, `<state>/cache/attach/<key>.<session>.pickle`, holds the compiled session, a digest of
each input file (spec, profiles, .env) and a keyed digest of each environment variable the
inputs name (`${VAR}`, `from_host:`). `key` covers aifo's version, the spec's path and content,
`--profile`s and `--session`. Any difference is a miss: the spec is compiled again and the entry
replaced. Sessions with a secret written into the spec are never cached (no secret value is
written here); `aifo destroy` removes the session's entries.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import pickle
import re
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aifo.attach import Target
    from aifo.model import Container, Session

FORMAT = 1
_ENV_REF = re.compile(rb"\$\{?([A-Za-z_][A-Za-z0-9_]*)|from_host:\s*[\"']?([A-Za-z_][A-Za-z0-9_]*)")
_ALWAYS = ("HOME",)  # `~` in mount sources and profile paths
_KEY_FILE = ".key"


def folder() -> Path:
    from aifo.state import state_root

    return state_root() / "cache" / "attach"


def _key(spec_file: Path, content: bytes, profiles: Sequence[str], session: str | None) -> str:
    from aifo import __version__

    h = hashlib.sha256()
    for part in (__version__, str(spec_file), "\0".join(profiles), session or ""):
        h.update(part.encode() + b"\0")
    h.update(content)
    return h.hexdigest()[:32]


def _secret(create: bool) -> bytes | None:
    path = folder() / _KEY_FILE
    try:
        return path.read_bytes()
    except OSError:
        if not create:
            return None
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


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _trusted(path: Path) -> bool:
    """Only our own, private files are unpickled."""
    try:
        st = path.stat()
    except OSError:
        return False
    return st.st_uid == os.getuid() and not st.st_mode & 0o022


def lookup(
    spec_file: str | Path,
    profiles: Sequence[str] = (),
    session: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Session | None:
    """The cached session when nothing it was made of changed, else None."""
    env = os.environ if environ is None else environ
    spec = Path(os.path.abspath(spec_file))
    try:
        content = spec.read_bytes()
    except OSError:
        return None
    key = _key(spec, content, profiles, session)
    for path in folder().glob(f"{key}.*.pickle"):
        if not _trusted(path):
            continue
        try:
            entry: dict[str, Any] = pickle.loads(path.read_bytes())
        except Exception:  # noqa: BLE001 - a damaged entry is a miss
            continue
        secret = _secret(create=False)
        if secret is None or entry.get("format") != FORMAT:
            continue
        sources: dict[str, str] = entry["sources"]
        if any(_digest(Path(p)) != digest for p, digest in sources.items()):
            continue
        if _env_digests(list(entry["env"]), secret, env) != entry["env"]:
            continue
        found: Session = entry["session"]
        return found
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
    """Remember a freshly compiled session; any failure to write only costs the next hit."""
    if _has_literal_secret(compiled):
        return
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
            for match in _ENV_REF.finditer(data):
                names.add((match.group(1) or match.group(2)).decode())
        entry = {
            "format": FORMAT,
            "sources": digests,
            "env": _env_digests(sorted(names), secret, env),
            "session": compiled,
        }
        key = _key(spec, spec.read_bytes(), profiles, session)
        for old in root.glob(f"{key}.*.pickle"):
            old.unlink(missing_ok=True)
        final = root / f"{key}.{compiled.name}.pickle"
        tmp = root / f".{key}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(tmp, final)
    except OSError:
        return


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
def _targets_file(session: str) -> Path:
    return folder() / f"targets.{session}.json"


def recall(session: Session, container: Container) -> Target | None:
    """The target `aifo.attach.locate` last found running and owned under this container's name:
    its id and labels never change, so an exec created on that id needs no inspect first (a
    404/409 from the exec create sends the caller back to `locate`). None when unknown."""
    import json

    from aifo.attach import Target
    from aifo.observed import ObservedContainer

    path = _targets_file(session.name)
    if not _trusted(path):
        return None
    try:
        known = json.loads(path.read_text(encoding="utf-8")).get(container.docker_name)
        ident, labels = str(known["id"]), dict(known["labels"])
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    observed = ObservedContainer(ident, container.docker_name, labels, state="running")
    stale = bool(container.config_hash) and observed.config_hash != container.config_hash
    return Target(container, observed, stale)


def remember(session: Session, target: Target) -> None:
    """Record a located, running target (a failure to write only costs the next inspect)."""
    import json

    from aifo.model import LABEL_HASH, LABEL_SESSION

    if not target.observed.id or not target.observed.running:
        return
    labels = {k: v for k, v in target.observed.labels.items() if k in (LABEL_HASH, LABEL_SESSION)}
    path = _targets_file(session.name)
    try:
        known = json.loads(path.read_text(encoding="utf-8")) if _trusted(path) else {}
    except (OSError, ValueError):
        known = {}
    if not isinstance(known, dict):
        known = {}
    entry = {"id": target.observed.id, "labels": labels}
    if known.get(target.container.docker_name) == entry:
        return
    known[target.container.docker_name] = entry
    try:
        root = folder()
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = root / f".targets.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(known, handle)
        os.replace(tmp, path)
    except OSError:
        return
