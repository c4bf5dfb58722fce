"""A built-in profile's own `allow:` opt-in (python's root hook) is not the user's to act on: no
command warns about it; plan's security summary shows it once. The user's own opt-ins, even in a
file named like a catalog one, still warn (issue 23)."""

from __future__ import annotations

from aifo.compile import compile_session
from aifo.compile.hostcontext import host_context
from aifo.plan.security import summarize
from tests.spec.conftest import Project

PYTHON = """\
version: 1
session: s
extends: [toolchain/python]
toolchains:
  python: {}
"""


def test_a_catalog_profiles_own_opt_in_is_not_warned_about(project: Project) -> None:
    project.write("aifo.yaml", PYTHON)
    spec = project.resolve()
    assert [str(w) for w in spec.warnings] == []
    session = compile_session(spec, context=host_context("s", writes_state=False))
    python = next(s for s in summarize(session) if s.container == "toolchain/python")
    assert python.root_hooks == ("cache-permissions",)


def test_the_users_own_opt_in_still_warns(project: Project) -> None:
    project.write(
        "profiles/toolchain/python.yaml",  # the user's file, named like the catalog's
        "toolchains:\n  python:\n    hooks:\n"
        "      - {name: mine, user: root, allow: root, run: [echo]}\n",
    )
    mine = PYTHON.replace("toolchain/python", "./profiles/toolchain/python.yaml")
    project.write("aifo.yaml", mine.replace("python: {}", "python: {image: busybox:latest}"))
    warned = [str(w) for w in project.resolve().warnings]
    assert any("running hook 'mine' as root (allowed by allow: root)" in w for w in warned), warned
