"""A fork's spec, derived from the main one (pure): names, workspace, mounts, labels, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from aifo.errors import ForkError, SpecError, UsageError
from aifo.fork.derive import derive
from aifo.fork.inspect import printable
from aifo.fork.layout import clone_path, parse_numbers
from aifo.model import LABEL_FORK
from aifo.sessionspec import resolve

SPEC = """\
version: 1
session: {session}
networks:
  sandbox: {{internal: true}}
agents:
  coder:
    image: busybox:latest
    pull: never
    networks: [sandbox]
    mounts:
      - {{source: ./conf, target: /conf, read_only: true}}
      - {{source: {outside}, target: /cache}}
  other:
    image: busybox:latest
    pull: never
    networks: [sandbox]
"""


def _resolved(tmp_path: Path, session: str = "demo") -> tuple[Path, object]:
    repo = (tmp_path / "repo").resolve()
    (repo / "conf").mkdir(parents=True)
    outside = tmp_path / "cache"
    outside.mkdir()
    (repo / "aifo.yaml").write_text(SPEC.format(session=session, outside=outside))
    env = {"HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    return repo, resolve(repo / "aifo.yaml", environ=env)


def test_the_fork_gets_its_name_clone_mounts_and_label(tmp_path: Path) -> None:
    repo, resolved = _resolved(tmp_path)
    clone = clone_path(repo, "demo", 3)
    (clone / "conf").mkdir(parents=True)
    data = derive(resolved, repo=repo, clone=clone, number=3).data  # type: ignore[arg-type]
    assert clone == tmp_path.resolve() / "repo.aifo-forks" / "demo-f3"
    assert data["session"] == "demo-f3"
    assert data["workspace"]["path"] == str(clone)
    mounts = {m["target"]: m["source"] for m in data["agents"]["coder"]["mounts"]}
    assert mounts == {"/conf": str(clone / "conf"), "/cache": str(tmp_path / "cache")}
    assert data["agents"]["other"]["labels"] == {LABEL_FORK: "demo/3"}
    assert resolved.data["session"] == "demo"  # type: ignore[attr-defined]


def test_agents_are_kept_by_name_and_an_unknown_one_is_refused(tmp_path: Path) -> None:
    repo, resolved = _resolved(tmp_path)
    (repo.parent / "repo.aifo-forks" / "demo-f1" / "conf").mkdir(parents=True)
    clone = clone_path(repo, "demo", 1)
    data = derive(resolved, repo=repo, clone=clone, number=1, agents=("other",)).data  # type: ignore[arg-type]
    assert list(data["agents"]) == ["other"]
    with pytest.raises(UsageError, match="did you mean 'coder'|coder"):
        derive(resolved, repo=repo, clone=clone, number=1, agents=("codr",))  # type: ignore[arg-type]


def test_a_mount_missing_from_the_clone_and_a_long_name_are_refused(tmp_path: Path) -> None:
    repo, resolved = _resolved(tmp_path)
    with pytest.raises(ForkError, match="fork.include"):
        derive(resolved, repo=repo, clone=clone_path(repo, "demo", 1), number=1)  # type: ignore[arg-type]
    repo2, long = _resolved(tmp_path / "b", session="x" * 38)
    with pytest.raises(UsageError, match="longer than 40"):
        derive(long, repo=repo2, clone=repo2, number=10)  # type: ignore[arg-type]


def test_published_host_ports_are_refused_with_their_location(tmp_path: Path) -> None:
    repo, resolved = _resolved(tmp_path)
    spec = repo / "aifo.yaml"
    spec.write_text(
        spec.read_text().replace(
            "  other:\n", '  other:\n    ports: ["9000"]\n    labels: {a: b}\n'
        )
    )
    spec.write_text(
        spec.read_text().replace("  coder:\n", '  coder:\n    ports: ["127.0.0.1:8080:80"]\n')
    )
    env = {"HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    again = resolve(spec, environ=env)
    with pytest.raises(SpecError) as caught:
        derive(again, repo=repo, clone=repo, number=1)
    [issue] = caught.value.issues  # "9000" publishes nothing on the host: allowed
    assert issue.path == "agents.coder.ports[0]" and issue.location is not None
    assert issue.location.line == 7


@pytest.mark.parametrize(
    ("words", "error"),
    [(("1", "2"), None), (("1", "1"), "given twice"), (("0",), "out of range"), (("x",), "not a")],
)
def test_fork_numbers(words: tuple[str, ...], error: str | None) -> None:
    if error is None:
        assert parse_numbers(words) == [1, 2]
    else:
        with pytest.raises(UsageError, match=error):
            parse_numbers(words)


def test_printable_makes_control_bytes_inert() -> None:
    assert printable("a\tb\n\x1b]0;x\x07\x9b") == "a\tb\n\\x1b]0;x\\x07\\x9b"
