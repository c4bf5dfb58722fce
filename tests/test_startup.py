"""Start-up stays light, and the console script is wired."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("python_on_whales", "networkx", "jsonschema", "watchfiles", "pydantic")

PROBE = """
import sys
from aifo.cli import main
try:
    code = main({args!r})
except SystemExit as exc:
    code = exc.code
code = 0 if code is None else code
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
print("HEAVY=" + ",".join(heavy))
print("CODE=" + str(code))
"""


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["plan", "--help"]])
def test_start_up_imports_no_heavy_module(args: list[str]) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args, heavy=HEAVY)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "HEAVY=\n" in out, out
    assert "CODE=0" in out, out


def test_version_prints_package_version() -> None:
    import aifo

    script = Path(sys.executable).with_name("aifo")
    assert script.exists(), "console script `aifo` is not installed in this venv"
    out = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"aifo {aifo.__version__}"


def test_unexpected_error_writes_debug_log(tmp_path: Path) -> None:
    # An internal bug (here: a command raising ZeroDivisionError) must not print a traceback
    # but leave a debug log under the state directory and name it.
    probe = (
        "import click, aifo.cli as c\n"
        "@click.command('boom')\n"
        "def boom():\n    1 / 0\n"
        "c.cli.add_command(boom)\n"
        "c.main(['boom'])\n"
    )
    env = {"AIFO_STATE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    logs = list((tmp_path / "debug").glob("aifo-*.log"))
    assert len(logs) == 1
    assert str(logs[0]) in proc.stderr
    assert "ZeroDivisionError" in logs[0].read_text()


def test_usage_error_exits_2() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "aifo", "no-such-command"], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr


def test_a_command_imports_no_other_command() -> None:
    # Commands are imported when they run (aifo.commands.MODULES): `aifo plan --help` loads the
    # plan command's module and none of the other 18.
    probe = PROBE.format(args=["plan", "--help"], heavy=HEAVY) + (
        "print('COMMANDS=' + ','.join(sorted(m for m in sys.modules "
        "if m.startswith('aifo.commands.') and m != 'aifo.commands.options')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert "COMMANDS=aifo.commands.plan\n" in out, out


def test_help_lists_the_commands_in_order() -> None:
    from aifo.commands import MODULES

    out = subprocess.run(
        [sys.executable, "-m", "aifo", "--help"], capture_output=True, text=True, check=True
    ).stdout
    listed = [line.split()[0] for line in out.split("Commands:", 1)[1].strip().splitlines()]
    assert listed == list(MODULES)


def test_a_spec_without_egress_or_mistakes_loads_neither_machinery(tmp_path: Path) -> None:
    # Loading and compiling a plain spec imports no egress rules or squid config, no
    # did-you-mean (difflib): only what the spec uses (start-up cost).
    spec = tmp_path / "aifo.yaml"
    spec.write_text("version: 1\nsession: light\nservices:\n  web: {image: busybox}\n")
    unwanted = ("aifo.egress.rules", "aifo.egress.squid", "difflib", "getpass")
    probe = (
        "import sys\n"
        "from aifo.pipeline import load\n"
        f"load({str(spec)!r}, writes_state=False)\n"
        f"print('LOADED=' + ','.join(m for m in {unwanted!r} if m in sys.modules))\n"
    )
    env = {**os.environ, "AIFO_STATE_DIR": str(tmp_path / "state")}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
    ).stdout
    assert "LOADED=\n" in out, out


def test_the_console_entry_spaces_out_the_cyclic_gc() -> None:
    """Issue 26: no collection runs while a one-shot command imports and compiles (5-9 ms)."""
    probe = (
        "import gc, sys\n"
        "from aifo import entry\n"
        "sys.argv = ['aifo', '--version']\n"
        "try:\n    entry.main()\n"
        "except SystemExit:\n    pass\n"
        "print('GEN0=%d' % gc.get_threshold()[0])\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout
    from aifo.gcpause import FIRST_GENERATION

    assert f"GEN0={FIRST_GENERATION}" in out and FIRST_GENERATION > 700, out
