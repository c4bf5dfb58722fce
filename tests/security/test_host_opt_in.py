"""`allow: [host]` on a network (issue 22 #12): accepted with a warning on an internal network,
refused on any other (it reaches the host anyway), unknown values refused by the schema; the
compiled network is then not guarded, and the plan's summary says the host is in reach."""

from __future__ import annotations

from pathlib import Path

import pytest

from aifo import pipeline
from aifo.cli import main
from tests.security.helpers import IDLE, IMAGE


def _write(tmp: Path, network: str) -> Path:
    path = tmp / "aifo.yaml"
    path.write_text(
        f"version: 1\nsession: host-opt-in\nnetworks:\n  sandbox: {network}\n"
        f"agents:\n  a:\n    image: {IMAGE}\n    pull: never\n    command: {IDLE}\n"
        "    workspace: false\n    networks: [sandbox]\n"
    )
    return path


def _validate(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as done:
        main(["validate", str(path)])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return int(done.value.code or 0), out + err


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_internal_with_the_opt_in_warns_and_is_not_guarded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "{internal: true, allow: [host]}")
    code, out = _validate(path, capsys)
    assert code == 0
    assert "aifo.yaml:4:" in out and "networks.sandbox.allow" in out
    assert "may reach the host's own addresses (allowed by allow: host)" in out
    [net] = pipeline.load(path).session.networks
    assert net.host_reach and not net.guarded


def test_without_the_opt_in_the_network_is_guarded(tmp_path: Path) -> None:
    [net] = pipeline.load(_write(tmp_path, "{internal: true}")).session.networks
    assert net.guarded and not net.host_reach


@pytest.mark.parametrize(
    ("network", "message"),
    [
        ("{allow: [host]}", "`allow: [host]` is only for an internal network"),
        ("{internal: true, allow: [everything]}", "networks.sandbox.allow[0]"),
        ("{external: true, allow: [host]}", "'allow' is not allowed on an external network"),
    ],
)
def test_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], network: str, message: str
) -> None:
    code, out = _validate(_write(tmp_path, network), capsys)
    assert code == 2 and message in out
