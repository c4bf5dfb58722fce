"""Hash a build context as Docker would send it: every file minus `.dockerignore` matches.

Covers the common `.dockerignore` rules: comments, blank lines, `*`/`?`/`[...]` within a path
segment, `**` across segments, a leading `/` ignored, a trailing `/` matching the directory, and
`!` exceptions, last match wins. The Dockerfile and .dockerignore always count (Docker sends them).
Entries are files, folders (name and mode: COPY keeps them) and symlinks (by target, never
followed); sockets and fifos count by type only.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from functools import lru_cache
from pathlib import Path

from aifo.host.files import UnreadableFile, read_bounded

_CHUNK = 1 << 16
DOCKERIGNORE_CAP = 1 << 20


def read_patterns(context: Path) -> list[tuple[bool, re.Pattern[str]]]:
    """(negated, regex) pairs from context/.dockerignore, in file order."""
    path = context / ".dockerignore"
    try:  # a regular file under a cap: a FIFO named .dockerignore must not hang the hash
        lines = read_bounded(path, DOCKERIGNORE_CAP).decode("utf-8").splitlines()
    except FileNotFoundError:
        return []
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"{path} is not UTF-8 text") from exc
    rules: list[tuple[bool, re.Pattern[str]]] = []
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        if negated:
            line = line[1:].strip()
        line = os.path.normpath(line.strip("/")).replace(os.sep, "/")
        if line in ("", "."):
            continue
        rules.append((negated, _compile(line)))
    return rules


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if i < len(pattern) and pattern[i] == "/":
                i += 1
                out.append("(?:.*/)?")
            else:
                out.append(".*")
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1 : end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    # A pattern matching a directory excludes everything below it.
    return re.compile("".join(out) + "(?:/.*)?")


def is_ignored(relpath: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    ignored = False
    for negated, regex in rules:
        if regex.fullmatch(relpath):
            ignored = not negated
    return ignored


def context_files(context: Path, dockerfile: str | None = None) -> list[str]:
    """Sorted relative paths (POSIX) the build would send; folders end in `/`."""
    rules = read_patterns(context)
    always = {".dockerignore", (dockerfile or "Dockerfile").replace(os.sep, "/")}
    # Without `!` exceptions nothing below an ignored folder can come back: skip walking it
    # (node_modules, target/), which is most of the time in a big context.
    prune = not any(negated for negated, _ in rules)
    found: list[str] = []
    for root, dirs, files in os.walk(context, followlinks=False):
        rel_root = os.path.relpath(root, context).replace(os.sep, "/")
        prefix = "" if rel_root == "." else rel_root + "/"
        kept = []
        for name in sorted(dirs):
            rel = prefix + name
            ignored = is_ignored(rel, rules)
            if os.path.islink(os.path.join(root, name)):
                if not ignored:
                    found.append(rel)  # sent as a link, never followed
                continue
            if not ignored:
                found.append(rel + "/")
            if not (ignored and prune) or any(a.startswith(rel + "/") for a in always):
                kept.append(name)
        dirs[:] = kept
        found += [
            prefix + n for n in files if prefix + n in always or not is_ignored(prefix + n, rules)
        ]
    return sorted(found)


def context_hash(context: str | Path, dockerfile: str | None = None) -> str:
    """sha256 over (path, mode, content or link target) of every entry the build would send.

    Modification times are left out: Docker's cache ignores them too, and a checkout or a
    `touch` must not force a rebuild.
    """
    base = Path(context)
    h = hashlib.sha256()
    for rel in context_files(base, dockerfile):
        full = base / rel
        st = full.lstat()
        h.update(rel.encode() + b"\0" + oct(st.st_mode).encode() + b"\0")
        if stat.S_ISLNK(st.st_mode):
            h.update(os.readlink(full).encode())
        elif stat.S_ISREG(st.st_mode):
            with open(full, "rb") as fh:
                while chunk := fh.read(_CHUNK):
                    h.update(chunk)
        # Folders count by name and mode; sockets and fifos by type only (reading one blocks).
        h.update(b"\0")
    return h.hexdigest()
