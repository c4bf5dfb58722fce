"""The built-in catalog (profiles/agent, profiles/toolchain): every profile validates alone and
combined, and each keeps the catalog's promises (pinned images, idle command, secrets marked,
config read-only, caches declared). See docs/catalog.md."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from aifo.errors import SpecError
from aifo.sessionspec import resolve
from aifo.sessionspec.shipped import data_dir

PROFILES = data_dir("profiles")
AGENTS = sorted(p.stem for p in (PROFILES / "agent").glob("*.yaml"))
TOOLCHAINS = ["rust", "node", "python", "go", "c-cpp"]
EXPECTED_AGENTS = [
    "aider",
    "claude-code",
    "codex",
    "crush",
    "gemini-cli",
    "letta",
    "opencode",
    "openhands",
    "plandex",
]
ALL = [f"agent/{a}" for a in AGENTS] + [f"toolchain/{t}" for t in TOOLCHAINS]


def _raw(name: str) -> dict[str, Any]:
    data = yaml.safe_load((PROFILES / f"{name}.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _spec(tmp_path: Path, extends: list[str], body: str = "") -> Path:
    ws = tmp_path / "ws"
    ws.mkdir(exist_ok=True)
    spec = ws / "aifo.yaml"
    spec.write_text(
        f"version: 1\nsession: cat\nextends: [{', '.join(extends)}]\n{body}", encoding="utf-8"
    )
    return spec


def _resolve(tmp_path: Path, extends: list[str], body: str = "", **env: str) -> dict[str, Any]:
    environ = {"HOME": str(tmp_path / "home"), **env}
    return resolve(_spec(tmp_path, extends, body), environ=environ).data


def test_catalog_is_complete() -> None:
    assert AGENTS == EXPECTED_AGENTS
    for t in TOOLCHAINS:
        assert (PROFILES / "toolchain" / f"{t}.yaml").is_file()


@pytest.mark.parametrize("name", ALL)
def test_profile_resolves_alone(tmp_path: Path, name: str) -> None:
    data = _resolve(tmp_path, [name])
    section = "agents" if name.startswith("agent/") else "toolchains"
    assert name.split("/", 1)[1] in data[section]


def test_all_profiles_resolve_together(tmp_path: Path) -> None:
    data = _resolve(tmp_path, [*ALL, "toolchain/busybox"])
    assert sorted(data["agents"]) == AGENTS
    assert sorted(data["toolchains"]) == sorted([*TOOLCHAINS, "busybox"])


def test_resolving_has_no_side_effects_on_home(tmp_path: Path) -> None:
    _resolve(tmp_path, ALL)
    assert not (tmp_path / "home").exists()


# -- agents ---------------------------------------------------------------------------------


def _pinned(ref: str) -> bool:
    name, _, tag = ref.partition(":")
    return bool(tag) and tag != "latest" and bool(re.search(r"\d", tag)) and "{" not in ref


@pytest.mark.parametrize("agent", AGENTS)
def test_agent_image_is_built_from_a_pinned_dockerfile(agent: str) -> None:
    spec = _raw(f"agent/{agent}")["agents"][agent]
    build = spec["image"]["build"]
    dockerfile = (PROFILES / "agent" / build["context"]).resolve() / "Dockerfile"
    text = dockerfile.read_text(encoding="utf-8")
    froms = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert froms and all(_pinned(f) for f in froms), froms
    versions = [v for k, v in build["args"].items() if k.endswith("_VERSION")]
    assert len(versions) == 1 and re.fullmatch(r"\d+\.\d+\.\d+", versions[0]), build["args"]
    # Every argument the profile sets is declared and used by the Dockerfile.
    for arg in build["args"]:
        assert re.search(rf"^ARG {arg}(=|\n)", text, re.M), arg
        assert f"${{{arg}}}" in text, arg
    assert 'CMD ["sleep", "infinity"]' in text
    assert "chmod 1777 /home/aifo" in text


NODE_AGENTS = ["claude-code", "codex", "crush", "gemini-cli", "letta", "opencode"]


@pytest.mark.parametrize(
    ("agents", "context"), [(NODE_AGENTS, "node-agent"), (["aider", "openhands"], "python-agent")]
)
def test_agents_of_one_runtime_share_one_parametrised_dockerfile(
    agents: list[str], context: str
) -> None:
    for agent in agents:
        build = _raw(f"agent/{agent}")["agents"][agent]["image"]["build"]
        assert build["context"] == f"./{context}", agent
        assert build["args"]["AGENT_PACKAGE"], agent
    packages = [
        _raw(f"agent/{a}")["agents"][a]["image"]["build"]["args"]["AGENT_PACKAGE"] for a in agents
    ]
    assert len(set(packages)) == len(agents)


@pytest.mark.parametrize("agent", AGENTS)
def test_agent_is_idle_and_declares_its_run_command(agent: str) -> None:
    spec = _raw(f"agent/{agent}")["agents"][agent]
    assert spec["command"] == ["sleep", "infinity"]
    assert isinstance(spec["run"], list) and spec["run"]
    assert spec["env"]["HOME"] == "/home/aifo"
    assert "networks" not in spec, "profiles leave network reach to the user's spec"


@pytest.mark.parametrize("agent", AGENTS)
def test_agent_credentials_are_optional_secrets(agent: str) -> None:
    env = _raw(f"agent/{agent}")["agents"][agent]["env"]
    keys = [k for k in env if re.search(r"(API_KEY|TOKEN)$", k)]
    assert keys
    for key in keys:
        assert env[key] == {"from_host": key, "secret": True, "required": False}, key
    for key in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        assert env[key] == {"from_host": key, "required": False}


@pytest.mark.parametrize("agent", AGENTS)
def test_agent_config_is_read_only_created_and_home_is_writable(agent: str) -> None:
    mounts = _raw(f"agent/{agent}")["agents"][agent]["mounts"]
    assert {"tmpfs": "/home/aifo", "size": "512m"} in mounts
    binds = [m for m in mounts if "source" in m]
    assert binds
    for bind in binds:
        assert bind["source"].startswith("~/")
        assert bind["target"].startswith("/home/aifo/")
        assert bind["read_only"] is True and bind["create"] is True


def test_secret_values_never_reach_the_resolved_data(tmp_path: Path) -> None:
    data = _resolve(tmp_path, ["agent/codex"], OPENAI_API_KEY="sk-test-123", GIT_AUTHOR_NAME="Ann")
    env = data["agents"]["codex"]["env"]
    assert env["OPENAI_API_KEY"] == {
        "from_host": "OPENAI_API_KEY",
        "secret": True,
        "required": False,
    }
    assert "sk-test-123" not in repr(data)
    assert env["GIT_AUTHOR_NAME"] == "Ann"  # non-secret from_host: resolved by the spec stage
    assert "GIT_COMMITTER_NAME" not in env  # unset and optional: left out


def test_image_override_replaces_the_build(tmp_path: Path) -> None:
    body = "agents:\n  codex:\n    image: example.org/codex:1.0\n"
    data = _resolve(tmp_path, ["agent/codex"], body)
    assert data["agents"]["codex"]["image"] == "example.org/codex:1.0"


def test_agent_version_is_overridable(tmp_path: Path) -> None:
    body = 'agents:\n  aider:\n    image: {build: {args: {AGENT_VERSION: "0.86.1"}}}\n'
    data = _resolve(tmp_path, ["agent/aider"], body)
    build = data["agents"]["aider"]["image"]["build"]
    # Build args merge by key: the version changes, the package and command stay.
    assert build["args"] == {
        "AGENT_PACKAGE": "aider-chat",
        "AGENT_VERSION": "0.86.1",
        "AGENT_COMMAND": "aider",
    }
    assert Path(build["context"]) == PROFILES / "agent" / "python-agent"


def test_run_must_be_a_command(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as err:
        _resolve(tmp_path, ["agent/codex"], "agents:\n  codex:\n    run: {x: 1}\n")
    assert "agents.codex.run" in str(err.value)


# -- toolchains -----------------------------------------------------------------------------


@pytest.mark.parametrize("tool", TOOLCHAINS)
def test_toolchain_image_is_official_and_versioned(tool: str) -> None:
    spec = _raw(f"toolchain/{tool}")["toolchains"][tool]
    assert "{version}" in spec["image"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", spec["version"])
    assert _pinned(spec["image"].replace("{version}", spec["version"]))
    assert "/" not in spec["image"].split(":")[0], "official images only"
    assert spec["command"] == ["sleep", "infinity"]


@pytest.mark.parametrize("tool", TOOLCHAINS)
def test_toolchain_caches_are_declared_mounted_and_made_writable(tool: str) -> None:
    raw = _raw(f"toolchain/{tool}")
    spec = raw["toolchains"][tool]
    volumes = raw["volumes"]
    mounted = {m["volume"]: m["target"] for m in spec["mounts"] if "volume" in m}
    assert set(mounted) == set(volumes) and volumes
    for name, body in volumes.items():
        assert body == {}, f"{name}: caches are per session unless the user shares them"
    [hook] = spec["hooks"]
    assert hook["name"] == "cache-permissions" and hook["user"] == "0:0"
    assert hook["run"][:2] == ["chmod", "1777"]
    assert sorted(hook["run"][2:]) == sorted(mounted.values())


def test_toolchain_version_and_shared_scope_are_selectable(tmp_path: Path) -> None:
    body = (
        'toolchains:\n  rust:\n    version: "1.83.0"\nvolumes:\n  cargo-registry: {scope: shared}\n'
    )
    data = _resolve(tmp_path, ["toolchain/rust"], body)
    assert data["toolchains"]["rust"]["version"] == "1.83.0"
    assert data["toolchains"]["rust"]["image"] == "rust:{version}-slim-bookworm"
    assert data["volumes"]["cargo-registry"] == {"scope": "shared"}
    assert data["volumes"]["cargo-git"] == {}


def test_cache_volume_names_do_not_collide() -> None:
    seen: dict[str, str] = {}
    for tool in TOOLCHAINS:
        for name in _raw(f"toolchain/{tool}")["volumes"]:
            assert name not in seen, f"{name} declared by {seen.get(name)} and {tool}"
            seen[name] = tool
