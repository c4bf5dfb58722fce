"""docker.sock mounts and privileged containers: refused with a located error unless the spec
opts in with `allow:`, and then accepted with a warning (and flagged by `aifo plan`).

Refusal happens in the spec stage, so `validate` and `plan` fail (exit 2) before any engine
call; only the last test, which plans an accepted spec, needs Docker.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from aifo.cli import main
from tests.security.helpers import IDLE, IMAGE


@dataclass(frozen=True)
class Spec:
    path: Path
    where: str  # "FILE:LINE:COL: json.path" of the value that needs the opt-in


def _spec(tmp: Path, *, sock: bool = False, privileged: bool = False, allow: str = "") -> Spec:
    """One container; `allow` is a line added to it (e.g. `allow: [privileged]`)."""
    socket = tmp / "run" / "docker.sock"
    socket.parent.mkdir(exist_ok=True)
    socket.touch()
    lines = [
        "version: 1",
        "session: opt-ins",
        "agents:",
        "  ops:",
        f"    image: {IMAGE}",
        "    pull: never",
        f"    command: {IDLE}",
        "    workspace: false",
    ]
    if allow:
        lines.append(f"    {allow}")
    if sock:
        lines += ["    mounts:", f"      - {{source: {socket}, target: /var/run/docker.sock}}"]
        value, where, line = str(socket), "agents.ops.mounts[0].source", len(lines)
    if privileged:
        lines.append("    security: {privileged: true}")
        value, where, line = "true", "agents.ops.security.privileged", len(lines)
    path = tmp / "aifo.yaml"
    path.write_text("\n".join(lines) + "\n")
    col = lines[line - 1].index(value) + 1
    return Spec(path, f"{path.name}:{line}:{col}: {where}")


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(argv)
    out, err = capsys.readouterr()
    assert isinstance(done.value.code, int)
    assert "Traceback" not in out + err
    return done.value.code, out, err


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


SOCKET_HINT = "add `allow: docker-socket` to opt in, if you really mean it"
PRIVILEGED_HINT = (
    "privileged containers can take over the host; add `privileged` to the container's "
    "`allow:` list, if you mean it"
)
REFUSED = [
    ({"sock": True}, "is refused: a container-engine socket gives full control of the host",
     SOCKET_HINT),
    # Another opt-in does not cover it.
    ({"sock": True, "allow": "allow: [sensitive]"}, "is refused: a container-engine socket",
     SOCKET_HINT),
    ({"privileged": True}, "a privileged container needs `allow: [privileged]`", PRIVILEGED_HINT),
    ({"privileged": True, "allow": "allow: [docker-socket]"}, "needs `allow: [privileged]`",
     PRIVILEGED_HINT),
]  # fmt: skip


@pytest.mark.parametrize(("kw", "message", "hint"), REFUSED)
def test_refused_without_the_opt_in(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    kw: dict[str, object],
    message: str,
    hint: str,
) -> None:
    spec = _spec(tmp_path, **kw)  # type: ignore[arg-type]
    code, out, _ = _run(["validate", spec.path.name], capsys)
    assert code == 2
    [error] = [line for line in out.splitlines() if line.startswith(spec.where)]
    assert message in error
    assert f"hint: {hint}" in out
    assert out.rstrip().endswith("aifo.yaml: invalid (1 error)")
    code, _, err = _run(["plan", spec.path.name], capsys)  # refused before any engine call
    assert code == 2
    [located] = [line for line in err.splitlines() if line.startswith(f"{spec.where}: ")]
    assert message in located and err.rstrip().endswith("error: the spec is invalid (1 error)")


ACCEPTED = [
    ({"sock": True, "allow": "allow: [docker-socket]"},
     "is sensitive: a container-engine socket gives full control of the host (allowed by allow: "
     "docker-socket)"),
    ({"privileged": True, "allow": "allow: [privileged]"},
     "a privileged container (allowed by allow: privileged)"),
]  # fmt: skip


@pytest.mark.parametrize(("kw", "warning"), ACCEPTED)
def test_accepted_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kw: dict[str, object], warning: str
) -> None:
    spec = _spec(tmp_path, **kw)  # type: ignore[arg-type]
    code, out, _ = _run(["validate", spec.path.name], capsys)
    assert code == 0
    assert f"warning: {spec.where}: " in out and warning in out
    assert out.rstrip().endswith("aifo.yaml: ok")


def test_mount_level_allow_accepts_the_socket(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _spec(tmp_path, sock=True)
    text = spec.path.read_text()
    spec.path.write_text(text.replace("docker.sock}", "docker.sock, allow: docker-socket}"))
    code, out, _ = _run(["validate", spec.path.name], capsys)
    assert code == 0 and f"warning: {spec.where}: " in out


@pytest.mark.docker
def test_plan_flags_what_was_allowed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _spec(tmp_path, sock=True, privileged=True, allow="allow: [docker-socket, privileged]")
    code, out, err = _run(["plan", spec.path.name], capsys)
    assert code == 0, err
    assert err.count("warning: aifo.yaml:") == 2  # the spec stage's opt-in warnings
    assert "privileges: PRIVILEGED, docker.sock, root/image user" in out
    assert "warning: agent/ops: privileged: full access to the host's devices and kernel" in out
    assert "warning: agent/ops: docker.sock mounted: equivalent to root on the host" in out
