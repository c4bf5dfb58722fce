"""The compiled code of the methods `@dataclass` generates, kept between runs like `.pyc` files.

`@dataclass` writes each class's `__init__`, `__repr__`, `__eq__`, `__hash__` (and, frozen,
`__setattr__`/`__delattr__`) as source text and compiles it with `exec` when the class is
defined: ~0.4 ms a class on Python 3.11, ~20 ms of every command's start-up over the ~60 classes
an apply imports (docs/engine.md). That text is the same from run to run, so its compiled code is
kept in `<state>/cache/code/` (one file per interpreter build, in its own marshal format, keyed by
the text itself), and `dataclasses` runs the kept code instead of compiling the text again: the
same functions, made in a tenth of the time.

`install()` gives the `dataclasses` module this `exec` (its generated source is the only thing it
executes); the console entry point (aifo.entry) calls it first. A file that is not ours, not
private, damaged or oversized is a miss, never an error; the file is written again, atomically,
only when a run compiled something new.
"""

from __future__ import annotations

import marshal
import os
import stat
import sys
from types import CodeType

TYPE_CHECKING = False  # not typing's: start-up (mypy knows the name)

if TYPE_CHECKING:
    from typing import Any

LIMIT = 8 << 20  # bytes: a bigger file is not read (and is replaced)
MAX_ENTRIES = 4096  # generated functions kept; past it, only those this run used


def path(root: str) -> str:
    """This interpreter's file under the state folder `root`: marshal and bytecode change with
    the interpreter build."""
    tag = f"{sys.implementation.cache_tag}-{sys.hexversion:x}"
    return os.path.join(root, "cache", "code", f"dataclasses.{tag}.marshal")


def _read(file: str) -> dict[str, CodeType]:
    from aifo.host.files import read_bounded
    from aifo.state.folder import is_private

    try:
        st = os.lstat(file)  # a link is not followed
        if not stat.S_ISREG(st.st_mode) or not is_private(st):
            return {}
        codes = marshal.loads(read_bounded(file, LIMIT))  # no FIFO waited on, no more held
    except (OSError, ValueError, EOFError, TypeError):  # UnreadableFile is an OSError
        return {}
    if not isinstance(codes, dict) or not all(
        type(k) is str and isinstance(v, CodeType) for k, v in codes.items()
    ):
        return {}
    return codes


class CodeCache:
    """The kept code, and the `exec` that uses it."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.file = path(root)
        self.codes = _read(self.file)
        self.used: set[str] = set()
        self.hits = 0
        self.misses = 0

    def exec(self, source: Any, scope: dict[str, Any] | None = None, local: Any = None) -> None:
        """`exec(source, scope, local)`, compiling a text only the first time it is seen.
        `dont_inherit`: the text is compiled as `dataclasses`' own `exec` compiles it, with no
        `from __future__` of ours."""
        if type(source) is str:
            self.used.add(source)
            code = self.codes.get(source)
            if code is None:
                self.misses += 1
                code = compile(source, "<string>", "exec", dont_inherit=True)
                self.codes[source] = code
            else:
                self.hits += 1
            source = code
        exec(source, scope, local)

    def save(self) -> None:
        """Write the file when this run compiled something new and aifo's state folder exists
        (a command that writes no state, on a machine without any, creates none: `aifo
        doctor`); a failure costs a next miss."""
        if not self.misses or not os.path.isdir(self.root):
            return
        codes = self.codes
        if len(codes) > MAX_ENTRIES:
            codes = {k: v for k, v in codes.items() if k in self.used}
        folder = os.path.dirname(self.file)
        tmp = f"{self.file}.{os.getpid()}.tmp"
        try:
            os.makedirs(folder, mode=0o700, exist_ok=True)
            data = marshal.dumps(codes)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, self.file)
        except (OSError, ValueError):
            try:
                os.unlink(tmp)
            except OSError:
                pass


def install() -> CodeCache | None:
    """Give `dataclasses` the kept code (saved at exit); None when it is installed already."""
    import atexit
    import dataclasses

    namespace = vars(dataclasses)
    if "exec" in namespace:
        return None
    from aifo.state.folder import state_folder

    cache = CodeCache(state_folder())
    namespace["exec"] = cache.exec
    atexit.register(cache.save)
    return cache
