"""The package indexes this host's own tools use, as the egress a toolchain needs to reach them.

`aifo init` writes, for each toolchain, the `egress:` block package installs need (commented out):
the index hosts come from the host's tools at run time (`pip config list` or pip's built-in
index, `npm config get registry`, `go env GOPROXY GOSUMDB`, cargo's configuration), never from a
list of registries in aifo, so a corporate mirror works unchanged. aifo.engine.hostindex asks the
tools; this module only reads their answers (pure).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class PackageIndex:
    """Where one toolchain's package tool installs from, and what that takes."""

    tool: str  # pip, npm, go, cargo
    url: str  # the index as the host's tool names it
    allow: tuple[str, ...]  # `HOST:PORT` the toolchain must reach (egress.allow)
    env: tuple[tuple[str, str], ...] = ()  # points the toolchain's tool at that same index
    source: str = ""  # where the answer came from, for the comment aifo init writes


def host_port(url: str) -> str | None:
    """`HOST:PORT` of an http(s) URL (the scheme's port when none is written); None otherwise."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return f"{parts.hostname}:{port or (443 if parts.scheme == 'https' else 80)}"


def _config_value(config_list: str, key: str) -> str | None:
    """A value of `pip config list` (`global.index-url='…'`), by pip's precedence: the
    environment, then site, user and global files."""
    found: dict[str, str] = {}
    for line in config_list.splitlines():
        name, sep, value = line.partition("=")
        if sep:
            found[name.strip()] = value.strip().strip("'\"")
    for scope in (":env:", "site", "user", "global"):
        if f"{scope}.{key}" in found:
            return found[f"{scope}.{key}"]
    return None


def pip_index(config_list: str, builtin: tuple[str, str] | None) -> PackageIndex | None:
    """From `pip config list` and pip's built-in index (its simple URL and the host its files
    are served from): a configured `index-url` wins (a mirror serves its own files)."""
    configured = _config_value(config_list, "index-url")
    if configured and host_port(configured):
        hosts = (str(host_port(configured)),)
        env = (("PIP_INDEX_URL", configured),)
        return PackageIndex("pip", configured, hosts, env, "pip's configuration")
    if builtin is None:
        return None
    url, files_host = builtin
    hp = host_port(url)
    if hp is None:
        return None
    allow = tuple(dict.fromkeys([hp, f"{files_host}:443"] if files_host else [hp]))
    return PackageIndex("pip", url, allow, (("PIP_INDEX_URL", url),), "pip's built-in index")


def npm_index(registry: str) -> PackageIndex | None:
    """From `npm config get registry` (tarballs come from the registry's own host)."""
    url = registry.strip()
    hp = host_port(url)
    if hp is None:
        return None
    return PackageIndex("npm", url, (hp,), (("npm_config_registry", url),), "npm's configuration")


def go_index(goproxy: str, gosumdb: str) -> PackageIndex | None:
    """From `go env GOPROXY GOSUMDB`: the http(s) proxies (`direct` would need every VCS host:
    left out) and the checksum database's host."""
    proxies = [p for p in goproxy.replace("|", ",").split(",") if host_port(p)]
    if not proxies:
        return None
    allow = [hp for p in proxies if (hp := host_port(p))]
    sumdb = gosumdb.strip()
    if sumdb and sumdb != "off":
        name, _, url = sumdb.partition(" ")  # `NAME[+KEY] [URL]`: the URL, else NAME, serves it
        hp = host_port(url) if url else f"{name.split('+')[0]}:443"
        if hp:
            allow.append(hp)
    env = (("GOPROXY", ",".join(proxies)),)
    return PackageIndex("go", ",".join(proxies), tuple(dict.fromkeys(allow)), env, "go env")


def cargo_index(config: str) -> PackageIndex | None:
    """From cargo's configuration (`~/.cargo/config.toml`): a replaced crates.io source's
    registry. Without one, cargo's built-in registry is not something cargo can print: None."""
    try:
        data = tomllib.loads(config)
    except tomllib.TOMLDecodeError:
        return None
    sources = data.get("source")
    if not isinstance(sources, dict):
        return None
    target = (sources.get("crates-io") or {}).get("replace-with")
    registry = (sources.get(target) or {}).get("registry") if isinstance(target, str) else None
    if not isinstance(registry, str):
        return None
    url = registry.removeprefix("sparse+")
    hp = host_port(url)
    if hp is None:
        return None
    return PackageIndex("cargo", registry, (hp,), (), "cargo's configuration")
