"""The host-path policy: every way host content reaches a container or an image passes here.

Routes: bind mounts, the workspace, `env.X.from_file`, the `.env` file, profile files, build
contexts and Dockerfiles. Each goes through one resolver (`locate`: `~`, relative paths, `..`,
symlinks; lengths bounded; never raises) and one rule table (`RULES`, checked against the path as
written and its real path, plus hard links by device and inode), and is refused unless the route
opts in with the named `allow:` (then allowed with a warning):

- `docker-socket`: a container-engine socket (Docker, containerd, Podman, ...), a hard link to
  one, or any folder that contains one;
- `sensitive`: `/`; `/etc`, `/proc`, `/sys`, `/dev`, `/boot`, the engine's storage and below;
  `$HOME` itself or a folder containing it; `~/.aws`; `~/.ssh`, `~/.gnupg` read-write; another
  account's `.ssh`, `.aws`, `.gnupg`; a hard
  link to a protected file (`/etc/shadow`, `~/.aws/credentials`, ...).

Files aifo reads itself (`from_file`, `.env`, profiles, Dockerfiles) must also be regular files
under a size cap (aifo.hostfiles, the one way to read them).
`HostFacts` holds what the rules compare against; tests build their own.
"""

from __future__ import annotations

import errno
import glob
import os
import re
import stat
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from aifo.hostfiles import Kind, type_problem

Allow = Literal["sensitive", "docker-socket"]
Identity = tuple[int, int]  # (st_dev, st_ino)

MAX_COMPONENT_BYTES = 255  # NAME_MAX
MAX_PATH_BYTES = 4096  # PATH_MAX
SCAN_DEPTH = 2  # how deep a mounted folder is searched for sockets and hard links
SCAN_ENTRIES = 4096

ENGINE_SOCKET_NAMES = frozenset(
    {"docker.sock", "containerd.sock", "podman.sock", "crio.sock", "buildkitd.sock"}
)
STANDARD_SOCKETS = (
    "/run/docker.sock",
    "/var/run/docker.sock",
    "/run/containerd/containerd.sock",
    "/var/run/containerd/containerd.sock",
    "/run/docker/containerd/containerd.sock",
    "/run/podman/podman.sock",
    "/var/run/podman/podman.sock",
    "/run/crio/crio.sock",
    "/run/buildkit/buildkitd.sock",
)
SYSTEM_FOLDERS = (
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/boot",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/lib/containers",
)
PROTECTED_FILES = (
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/sudoers",
    "/etc/ssh/ssh_host_*_key",
    "~/.aws/credentials",
    "~/.ssh/id_*[!b]",  # private keys, not the .pub halves
    "~/.docker/config.json",
    "~/.netrc",
    "~/.git-credentials",
    "~/.kube/config",
)


@dataclass(frozen=True)
class HostFacts:
    """What the rules compare against. `host_facts()` reads this host; tests inject their own."""

    home: Path
    homes: tuple[Path, ...]  # $HOME as written and real
    sockets: tuple[Path, ...]  # engine socket locations, as written and real
    socket_ids: frozenset[Identity] = frozenset()
    protected: Mapping[Identity, str] = field(default_factory=dict)  # identity -> path shown
    system: tuple[Path, ...] = tuple(Path(p) for p in SYSTEM_FOLDERS)
    other_homes: tuple[Path, ...] = ()  # other accounts' homes (~root/.ssh is not yours either)


def _identity(path: str) -> tuple[Identity, bool] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino), stat.S_ISSOCK(st.st_mode)


def _unix_socket(url: str | None) -> str | None:
    if url and url.startswith("unix://"):
        return url[len("unix://") :]
    return None


def host_facts(home: Path, environ: Mapping[str, str]) -> HostFacts:
    """This host's facts: engine sockets (standard places, $DOCKER_HOST, $CONTAINER_HOST, the
    rootless ones) and the protected files' identities. Only stats; never reads a file."""
    runtime = environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    # Rootless and desktop engines' places count where a socket is there; the standard places
    # and the configured hosts always do (an engine may start after validation).
    personal = [
        f"{runtime}/docker.sock",
        f"{runtime}/podman/podman.sock",
        f"{runtime}/containerd/containerd.sock",
        str(home / ".docker/run/docker.sock"),
    ]
    configured = [environ.get("DOCKER_HOST"), environ.get("CONTAINER_HOST")]
    candidates = [
        *STANDARD_SOCKETS,
        *(p for p in personal if os.path.lexists(p)),
        *(s for s in map(_unix_socket, configured) if s),
    ]
    facts = facts_for(home, candidates, _expand_protected(home))
    return replace(facts, other_homes=_other_homes(facts.homes))


def _other_homes(mine: tuple[Path, ...]) -> tuple[Path, ...]:
    """Every other account's home (from the password database), for their private folders."""
    try:
        import pwd

        entries = pwd.getpwall()
    except (ImportError, OSError):
        return ()
    found = {Path(os.path.normpath(e.pw_dir)) for e in entries[:4096] if e.pw_dir.startswith("/")}
    return tuple(sorted(h for h in found if h not in mine and h != Path("/")))


def _expand_protected(home: Path) -> list[str]:
    out: list[str] = []
    for pattern in PROTECTED_FILES:
        full = str(home) + pattern[1:] if pattern.startswith("~") else pattern
        try:
            out += sorted(glob.glob(full))[:64]
        except OSError:
            continue
    return out


def facts_for(
    home: Path,
    sockets: Iterable[str],
    protected: Iterable[str],
    system: Iterable[str] = SYSTEM_FOLDERS,
) -> HostFacts:
    """Facts from explicit socket locations and protected files (what tests inject)."""
    socket_paths: list[Path] = []
    socket_ids: set[Identity] = set()
    for raw in sockets:
        written = Path(os.path.normpath(raw))
        socket_paths.append(written)
        real = _real(written)
        if real is not None:
            socket_paths.append(real)
        found = _identity(str(written))
        if found is not None and found[1]:
            socket_ids.add(found[0])
    guarded: dict[Identity, str] = {}
    for raw in protected:
        found = _identity(raw)
        if found is not None:
            guarded.setdefault(found[0], raw)
    real_home = _real(home)
    return HostFacts(
        home=home,
        homes=tuple(dict.fromkeys([home, *([real_home] if real_home else [])])),
        sockets=tuple(dict.fromkeys(socket_paths)),
        socket_ids=frozenset(socket_ids),
        protected=guarded,
        system=tuple(Path(p) for p in system),
    )


def _real(path: Path) -> Path | None:
    try:
        return Path(os.path.realpath(path))
    except (OSError, ValueError):
        return None


# -- the resolver ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Located:
    """One host path as the policy sees it. `problem` set means it cannot be used at all."""

    written: Path  # `~`, relative and `..` resolved; no I/O
    real: Path  # symlinks resolved (== written when that failed)
    st: os.stat_result | None  # of the real path; None when missing
    problem: str | None = None

    @property
    def shown(self) -> str:
        return (
            str(self.written) if self.real == self.written else f"{self.written} (-> {self.real})"
        )


def expand(source: str, base: Path, home: Path) -> Path:
    """`~`, `~/x` and relative paths (to `base`) made absolute and normalized; no I/O."""
    if source == "~":
        path = home
    elif source.startswith("~/"):
        path = home / source[2:]
    else:
        path = base / os.path.expanduser(source)
    return Path(os.path.normpath(path))


def length_problem(text: str) -> str | None:
    """Why a path cannot be a host path (NUL byte, a component or the whole too long), or None."""
    if "\0" in text:
        return "it contains a NUL character"
    raw = text.encode("utf-8", "surrogateescape")
    if len(raw) > MAX_PATH_BYTES:
        return f"it is {len(raw)} bytes long; a path may have at most {MAX_PATH_BYTES}"
    longest = max((len(part) for part in raw.split(b"/")), default=0)
    if longest > MAX_COMPONENT_BYTES:
        return (
            f"one of its names is {longest} bytes long; a name may have at most "
            f"{MAX_COMPONENT_BYTES}"
        )
    return None


_FOREIGN_ROOT = re.compile(r"^/proc/[^/]+/(root|cwd|map_files)(/|$)")


def locate(source: str, base: Path, home: Path) -> Located:
    """Resolve a host path as written in the spec. Never raises: a problem is reported."""
    problem = length_problem(source)
    if problem is not None:
        shown = Path(source[:64] + "...") if len(source) > 64 else Path(source.replace("\0", ""))
        return Located(shown, shown, None, problem)
    written = expand(source, base, home)
    problem = length_problem(str(written))
    if problem is not None:
        return Located(written, written, None, problem)
    if _FOREIGN_ROOT.match(str(written)):
        return Located(written, written, None, "it is another process's filesystem view")
    try:
        real = Path(os.path.realpath(written))
        st: os.stat_result | None = os.stat(real)
    except FileNotFoundError:
        return Located(written, real, None)
    except (OSError, ValueError) as exc:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return Located(written, written, None)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return Located(written, written, None, f"it cannot be inspected: {reason.lower()}")
    return Located(written, real, st)


# -- the rule table ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Finding:
    allow: Allow  # the opt-in that permits it
    reason: str


def _under(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def _socket_rule(path: Path, facts: HostFacts, read_only: bool) -> Iterable[Finding]:
    if path.name in ENGINE_SOCKET_NAMES:
        yield Finding("docker-socket", "a container-engine socket gives full control of the host")
    for sock in facts.sockets:
        if sock != path and sock.is_relative_to(path):
            yield Finding(
                "docker-socket",
                f"it contains {sock}, a container-engine socket's place (full control of the host)",
            )
            return


def names_engine_socket(source: str) -> bool:
    """By the path alone (no I/O): an engine socket, or a folder holding a standard one. For
    reports on compiled sessions (the plan's security summary); validation uses `check`."""
    path = Path(os.path.normpath(source or "/"))
    facts = HostFacts(home=Path("/nonexistent"), homes=(), sockets=_STANDARD)
    return any(True for _ in _socket_rule(path, facts, True))


_STANDARD = tuple(Path(p) for p in STANDARD_SOCKETS)


def _root_rule(path: Path, facts: HostFacts, read_only: bool) -> Iterable[Finding]:
    if path == Path("/"):
        yield Finding("sensitive", "it is the host's root folder")


def _system_rule(path: Path, facts: HostFacts, read_only: bool) -> Iterable[Finding]:
    for system in facts.system:
        if _under(path, system):
            yield Finding("sensitive", f"{system} is a host system folder")


def _home_rule(path: Path, facts: HostFacts, read_only: bool) -> Iterable[Finding]:
    for home in facts.homes:
        if path == home:
            yield Finding("sensitive", "it is your whole home folder")
        elif home.is_relative_to(path) and path != Path("/"):
            yield Finding("sensitive", "it contains your home folder")
        if _under(path, home / ".aws"):
            yield Finding("sensitive", "~/.aws holds cloud credentials")
        for private in (".ssh", ".gnupg"):
            if not read_only and _under(path, home / private):
                yield Finding("sensitive", f"~/{private} holds private keys (read-write)")


def _other_home_rule(path: Path, facts: HostFacts, read_only: bool) -> Iterable[Finding]:
    for home in facts.other_homes:
        for private in (".aws", ".ssh", ".gnupg"):
            if _under(path, home / private):
                yield Finding("sensitive", f"{home / private} is another account's private folder")


RULES = (_root_rule, _system_rule, _home_rule, _other_home_rule, _socket_rule)


def classify(path: Path, facts: HostFacts, read_only: bool) -> list[Finding]:
    """Every rule `path` (absolute, normalized) falls under, by its name alone. Pure."""
    return [finding for rule in RULES for finding in rule(path, facts, read_only)]


def _identity_findings(found: Located, facts: HostFacts) -> Iterable[Finding]:
    """Hard links: the file itself, or (shallowly) what a folder holds, by device and inode."""
    if found.st is None:
        return
    for ident, mode, where in _entries(found.real, found.st):
        if stat.S_ISSOCK(mode) and ident in facts.socket_ids:
            yield Finding(
                "docker-socket",
                f"{where} is a container-engine socket, which gives full control of the host",
            )
        elif (
            stat.S_ISSOCK(mode)
            and Path(where).name in ENGINE_SOCKET_NAMES
            and where != str(found.real)
        ):
            yield Finding("docker-socket", f"it contains the container-engine socket {where}")
        protected = facts.protected.get(ident)
        if protected is not None and stat.S_ISREG(mode) and where != protected:
            yield Finding("sensitive", f"{where} is a hard link to {protected}")


def _entries(root: Path, st: os.stat_result) -> Iterable[tuple[Identity, int, str]]:
    yield (st.st_dev, st.st_ino), st.st_mode, str(root)
    if not stat.S_ISDIR(st.st_mode):
        return
    budget = SCAN_ENTRIES
    queue: list[tuple[str, int]] = [(str(root), 1)]
    while queue and budget > 0:
        folder, depth = queue.pop(0)
        try:
            with os.scandir(folder) as it:
                for entry in it:
                    budget -= 1
                    if budget < 0:
                        return
                    try:
                        est = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if stat.S_ISDIR(est.st_mode):
                        if depth < SCAN_DEPTH:
                            queue.append((entry.path, depth + 1))
                    elif stat.S_ISSOCK(est.st_mode) or (
                        stat.S_ISREG(est.st_mode) and est.st_nlink > 1
                    ):
                        yield (est.st_dev, est.st_ino), est.st_mode, entry.path
        except OSError:
            continue


# -- verdicts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """What the policy says about one host path."""

    path: Path  # absolute, symlinks resolved: what Docker will mount or aifo will read
    errors: tuple[tuple[str, str | None], ...]  # (message, hint)
    warnings: tuple[str, ...]


def check(
    source: str,
    *,
    base: Path,
    facts: HostFacts,
    read_only: bool,
    allowed: Collection[str],
    create: bool = False,
    what: str = "mount source",
    kind: Kind = "any",
    cap: int | None = None,
    missing_ok: bool = False,
    opt_in: str | None = "add `allow: {allow}` to opt in, if you really mean it",
) -> Verdict:
    """Apply the policy to one host path as written in the spec.

    `kind` and `cap` say what the route needs (a folder; a regular file under `cap` bytes);
    `opt_in` is the hint for a refusal (`None`: this route cannot opt in).
    """
    found = locate(source, base, facts.home)
    if found.problem is not None:
        return Verdict(
            found.written, ((f"{what} {found.shown} is refused: {found.problem}", None),), ()
        )
    errors: list[tuple[str, str | None]] = []
    warnings: list[str] = []
    if found.st is None:
        if not create and not missing_ok:
            hint = (
                "create it, or add `create: true` to the mount" if what == "mount source" else None
            )
            errors.append((f"{what} {found.written} does not exist", hint))
    else:
        problem = type_problem(found.st, kind, cap)
        if problem is not None:
            errors.append((f"{what} {found.shown} is refused: {problem}", None))
    seen: set[str] = set()
    findings = [
        f for p in dict.fromkeys((found.written, found.real)) for f in classify(p, facts, read_only)
    ]
    kinds = {f.allow for f in findings}
    findings += [f for f in _identity_findings(found, facts) if f.allow not in kinds]
    for finding in findings:
        if finding.reason in seen:
            continue
        seen.add(finding.reason)
        if finding.allow in allowed:
            warnings.append(
                f"{what} {found.shown} is sensitive: {finding.reason} (allowed by allow: "
                f"{finding.allow})"
            )
        else:
            hint = (
                opt_in.format(allow=finding.allow)
                if opt_in
                else f"a {what} cannot opt in; keep it out of protected places"
            )
            errors.append((f"{what} {found.shown} is refused: {finding.reason}", hint))
    return Verdict(found.real, tuple(errors), tuple(warnings))
