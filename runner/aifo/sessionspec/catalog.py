"""The profile catalog: every profile a spec may name in `extends:`, with its one-line
description and where it comes from (the spec's `.aifo/profiles/` first, then built-in)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SUFFIX = ".yaml"
REPO_PROFILES = Path(".aifo") / "profiles"
_MAX_DESCRIPTION = 200


@dataclass(frozen=True)
class Profile:
    """A profile `extends:` can name, and where it comes from."""

    name: str  # e.g. agent/codex
    description: str
    source: str  # "built-in" or "repository"
    path: Path
    shadows: bool = False  # a repository profile hiding a built-in one of the same name


def describe(path: Path) -> str:
    """The first sentence of the leading comment (modelines skipped), without a
    `Built-in profile `x`:` lead."""
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            head = [handle.readline(4096) for _ in range(12)]
    except OSError:
        return ""
    words: list[str] = []
    for line in head:
        text = line.strip()
        if not text.startswith("#"):
            break
        text = text.lstrip("#").strip()
        if text.startswith("yaml-language-server:"):
            continue
        if not text:
            if words:
                break
            continue
        words.append(text)
    joined = " ".join(words)
    lead, sep, rest = joined.partition(": ")
    if sep and lead.lower().startswith(("built-in profile", "profile")):
        joined = rest
    end = joined.find(". ")
    sentence = joined[: end + 1] if end >= 0 else joined
    return sentence[:_MAX_DESCRIPTION]


def _scan(root: Path, source: str) -> dict[str, Profile]:
    found: dict[str, Profile] = {}
    if not root.is_dir():
        return found
    for path in sorted(root.rglob(f"*{SUFFIX}")):
        if not path.is_file():
            continue
        name = path.relative_to(root).with_suffix("").as_posix()
        found[name] = Profile(name, describe(path), source, path)
    return found


def profiles(spec_dir: Path | None = None) -> list[Profile]:
    """Every profile by name; a repository profile wins over a built-in one of the same name."""
    from aifo.sessionspec.profiles import builtin_dir

    builtin = builtin_dir()
    found = _scan(builtin, "built-in") if builtin else {}
    if spec_dir is not None:
        for name, profile in _scan(spec_dir / REPO_PROFILES, "repository").items():
            shadows = name in found
            found[name] = Profile(name, profile.description, "repository", profile.path, shadows)
    return [found[name] for name in sorted(found)]


def builtin_names() -> list[str]:
    return [p.name for p in profiles() if p.source == "built-in"]
