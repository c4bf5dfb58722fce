"""The host-path policy: every way host content reaches a container or an image passes here.

Routes: bind mounts, the workspace, `env.X.from_file`, the `.env` file, profile files, build
contexts and Dockerfiles. Each goes through one resolver (`locate`: `~`, relative paths, `..`,
symlinks; lengths bounded; never raises) and one rule table (`RULES`, checked against the path as
written and its real path, plus hard links by device and inode), and is refused unless the route
opts in with the named `allow:` (then allowed with a warning):

- `docker-socket`: a container-engine socket (Docker, containerd, Podman, ...), a hard link to
  one, or any folder that contains one;
- `sensitive`: `/`; `/etc`, `/proc`, `/sys`, `/dev`, `/boot`, the engine's storage and below;
  `$HOME` itself or a folder containing it; another account's `.ssh`, `.aws`, `.gnupg` and
  credential places; a hard link to a protected file (`/etc/shadow`, `~/.aws/credentials`, ...);
- `credentials`: a place of `CREDENTIALS` (`~/.ssh`, `~/.aws`, `~/.docker`, `~/.kube`,
  `~/.config/gcloud`, `~/.netrc`, `~/.npmrc`, ...), something inside one, or a folder holding one
  (`~/.config`), read-only or not.

And with no opt-in at all: aifo's own state folder, anything in it, and every folder holding it
(`~/.local/state`, `~/.local`): a container that could write there would steer aifo on the host.

Files aifo reads itself (`from_file`, `.env`, profiles, Dockerfiles) must also be regular files
under a size cap (aifo.host.files, the one way to read them).
`HostFacts` (aifo.sessionspec.hostfacts) holds what the rules compare against; tests build
their own.
The resolver is aifo.sessionspec.hostlocate.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from aifo.host.files import type_problem
from aifo.sessionspec.hostfacts import CREDENTIALS, STANDARD_SOCKETS, HostFacts, Identity
from aifo.sessionspec.hostlocate import Located, locate

if TYPE_CHECKING:
    from aifo.host.files import Kind

Allow = Literal["sensitive", "docker-socket", "credentials"]

SCAN_DEPTH = 2  # how deep a mounted folder is searched for sockets and hard links
SCAN_ENTRIES = 4096

ENGINE_SOCKET_NAMES = frozenset(
    {"docker.sock", "containerd.sock", "podman.sock", "crio.sock", "buildkitd.sock"}
)


@dataclass(frozen=True)
class Finding:
    """Why a host path needs an opt-in, and which one."""

    allow: Allow | None  # the opt-in that permits it; None: nothing does
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


def credential_reason(path: Path, homes: Iterable[Path]) -> str | None:
    """Why `path` (absolute, normalized) exposes credentials (CREDENTIALS), or None. Pure."""
    for home in homes:
        if path == home or not path.is_relative_to(home):
            continue  # the home folder itself is the home rule's
        inside = [f"~/{rel} holds {what}" for rel, what in CREDENTIALS if _under(path, home / rel)]
        if inside:
            return inside[0]
        held = [f"~/{rel}" for rel, _what in CREDENTIALS if (home / rel).is_relative_to(path)]
        if held:
            return "it contains " + ", ".join(held) + " (credentials)"
    return None


def _credentials_rule(path: Path, facts: HostFacts, read_only: bool) -> Iterable[Finding]:
    reason = credential_reason(path, facts.homes)
    if reason is not None:
        yield Finding("credentials", reason)


def _other_home_rule(path: Path, facts: HostFacts, read_only: bool) -> Iterable[Finding]:
    for home in facts.other_homes:
        for private in (".aws", ".ssh", ".gnupg", *(rel for rel, _what in CREDENTIALS)):
            if _under(path, home / private):
                yield Finding("sensitive", f"{home / private} is another account's private folder")
                return


def _state_rule(path: Path, facts: HostFacts, read_only: bool) -> Iterable[Finding]:
    """aifo's own state (journals, locks, keys, caches): whoever can write it steers aifo on the
    host, whoever can read it reads the session's secret key. No opt-in."""
    for state in facts.state_dirs:
        if _under(path, state):
            yield Finding(None, f"it is aifo's own state folder ({state})")
            return
        if state.is_relative_to(path) and path != Path("/"):
            yield Finding(None, f"it contains aifo's own state folder ({state})")
            return


RULES = (
    _root_rule,
    _system_rule,
    _home_rule,
    _credentials_rule,
    _other_home_rule,
    _state_rule,
    _socket_rule,
)


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
        if finding.allow is not None and finding.allow in allowed:
            warnings.append(
                f"{what} {found.shown} is sensitive: {finding.reason} (allowed by allow: "
                f"{finding.allow})"
            )
        else:
            if finding.allow is None:
                hint = (
                    "nothing opts in to this: point it elsewhere (or move aifo's state folder "
                    "with $AIFO_STATE_DIR)"
                )
            elif opt_in:
                hint = opt_in.format(allow=finding.allow)
            else:
                hint = f"a {what} cannot opt in; keep it out of protected places"
            errors.append((f"{what} {found.shown} is refused: {finding.reason}", hint))
    return Verdict(found.real, tuple(errors), tuple(warnings))
