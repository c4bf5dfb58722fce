"""`HostFacts`: what the host-path policy (aifo.sessionspec.hostpaths) compares against: engine
sockets, home folders, system folders, protected files. `host_facts()` reads this host (stats only);
tests build their own with `facts_for()`."""

from __future__ import annotations

import glob
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

Identity = tuple[int, int]  # (st_dev, st_ino)

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
# Where credentials live under a home folder: (path under home, what it holds). Mounting one, a
# folder inside one, or a folder holding one (such as ~/.config) needs `allow: credentials`,
# read-only or not: a token read is a token stolen. docs/security.md keeps this list.
CREDENTIALS = (
    (".ssh", "SSH keys"),
    (".gnupg", "GnuPG keys"),
    (".aws", "cloud credentials"),
    (".azure", "Azure credentials"),
    (".config/gcloud", "Google Cloud credentials"),
    (".oci", "Oracle Cloud credentials"),
    (".kube", "Kubernetes credentials"),
    (".docker", "container registry credentials"),
    (".config/containers", "container registry credentials"),
    (".config/gh", "GitHub tokens"),
    (".config/hub", "GitHub tokens"),
    (".config/glab-cli", "GitLab tokens"),
    (".password-store", "a password store"),
    (".local/share/keyrings", "the desktop keyring"),
    (".terraform.d", "Terraform tokens"),
    (".vault-token", "a Vault token"),
    (".netrc", "passwords for hosts"),
    (".git-credentials", "git passwords"),
    (".config/git/credentials", "git passwords"),
    (".npmrc", "package registry tokens"),
    (".pypirc", "package registry passwords"),
    (".cargo/credentials", "package registry tokens"),
    (".cargo/credentials.toml", "package registry tokens"),
    (".gem/credentials", "package registry tokens"),
    (".pgpass", "database passwords"),
    (".my.cnf", "database passwords"),
    (".s3cfg", "S3 credentials"),
    (".boto", "cloud credentials"),
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
    state_dirs: tuple[Path, ...] = ()  # aifo's state folder, as written and real (never mounted)


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


def host_facts(home: Path, environ: Mapping[str, str], state_dir: Path | None = None) -> HostFacts:
    """This host's facts: engine sockets (standard places, $DOCKER_HOST, $CONTAINER_HOST, the
    rootless ones), the protected files' identities and aifo's state folder (the caller's
    `state_dir`: the spec stage does not decide where state lives). Only stats; never reads a
    file."""
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
    return replace(
        facts, other_homes=_other_homes(facts.homes), state_dirs=written_and_real(state_dir)
    )


def written_and_real(path: Path | None) -> tuple[Path, ...]:
    """`path` normalized, and its real path when that differs (none for None)."""
    if path is None:
        return ()
    written = Path(os.path.normpath(os.path.abspath(path)))
    real = _real(written)
    return tuple(dict.fromkeys([written, *([real] if real else [])]))


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
