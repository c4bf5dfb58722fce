"""Compile a resolved spec into the typed desired state (aifo.model). Pure.

Every default is applied here, so the planner and the engine adapter never guess, and so that
spelling a default out in the spec never changes a hash. Host facts (uid, gid, secret digests,
AppArmor, build-context hashing) come in through `CompileContext`, so compile reads nothing itself.
What each `config_hash` covers is decided in aifo.model.hashing. Compile also records, per edge,
the spec path that declared it (`Session.origins`), so a cycle names the exact `file:line`.

One module per part: `core` (shared state, defaults), `images`, `containers`, `session` (the
compiler: networks, volumes, hooks and the whole session).
"""

from __future__ import annotations

from aifo.compile.core import Resolved
from aifo.compile.hostcontext import CompileContext, check_context
from aifo.compile.session import Compiler
from aifo.gcpause import gc_paused
from aifo.model import Session

__all__ = ["CompileContext", "Resolved", "check_context", "compile_session"]


def compile_session(resolved: Resolved, *, context: CompileContext) -> Session:
    """The typed desired state; SpecError (exit 2) lists every located problem."""
    with gc_paused():
        return Compiler(resolved, context).session()
