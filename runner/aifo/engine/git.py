"""A tiny runner for `git` (fork mode): argv in, stdout out, GitError on failure.

It lives in engine/ because engine/ is the one place that starts processes. Every call is
isolated from the caller's environment (no inherited GIT_DIR, GIT_INDEX_FILE, ...; no prompt; C
locale) and runs without hooks, signing or fsmonitor: what aifo does to a repository is exactly
the git steps it journals, nothing the repository's configuration adds. `calls` counts calls so
tests can fail the k-th one (tests/fork/).
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from aifo.errors import GitError

TIMEOUT_S = 600.0
# What each call overrides, whatever the repository's or the user's configuration says.
SAFE_CONFIG = (
    "core.hooksPath=/dev/null",
    "commit.gpgSign=false",
    "tag.gpgSign=false",
    "core.fsmonitor=false",
    "core.untrackedCache=false",
    "protocol.file.allow=always",
    "credential.helper=",
    "core.pager=cat",
)


def environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without git's own variables (they would redirect a call)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        {
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_OPTIONAL_LOCKS": "0",
            "LC_ALL": "C",
        }
    )
    if extra:
        env.update(extra)
    return env


class Git:
    """Runs `git -C <cwd> <args>`; thread-safe call counting."""

    def __init__(self, git: str = "git", *, timeout_s: float = TIMEOUT_S) -> None:
        self.git = git
        self.timeout_s = timeout_s
        self.calls = 0
        self._lock = threading.Lock()

    def run(
        self,
        cwd: Path,
        *args: str,
        env: Mapping[str, str] | None = None,
        check: bool = True,
        input_text: str | None = None,
    ) -> tuple[int, str, str]:
        """(exit code, stdout, stderr); a non-zero exit raises GitError when `check`."""
        with self._lock:
            self.calls += 1
        argv = [self.git]
        for setting in SAFE_CONFIG:
            argv += ["-c", setting]
        argv += ["-C", str(cwd), *args]
        try:
            proc = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                errors="replace",
                env=environ(env),
                timeout=self.timeout_s,
                input=input_text,
                stdin=None if input_text is not None else subprocess.DEVNULL,
                check=False,
            )
        except FileNotFoundError as exc:
            raise GitError(
                "git is not installed", hint="install git; fork mode needs it on the host"
            ) from exc
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise GitError(f"git {_show(args)} failed in {cwd}: {exc}") from exc
        if check and proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise GitError(
                f"git {_show(args)} failed in {cwd}: {detail[-1] if detail else proc.returncode}"
            )
        return proc.returncode, proc.stdout, proc.stderr

    def out(self, cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
        """stdout of a call that must succeed, stripped."""
        return self.run(cwd, *args, env=env)[1].strip()

    def ok(self, cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> bool:
        """Whether a call exits 0 (a question, not a step)."""
        return self.run(cwd, *args, env=env, check=False)[0] == 0


def _show(args: Sequence[str]) -> str:
    return " ".join(a if len(a) < 60 else a[:57] + "..." for a in args[:6])
