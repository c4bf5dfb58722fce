"""The proxy added to a resolved spec (aifo.egress.sidecar) and the spec checks on `egress`."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from aifo.egress.sidecar import PROXY, expand
from aifo.errors import SpecError
from aifo.model import Container
from aifo.sessionspec import resolve

CTX = "/ctx/egress"


def _data(**agents: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "session": "s",
        "networks": {"sandbox": {"internal": True}, "web": {}},
        "agents": agents,
        "toolchains": {"t": {"image": "x", "networks": ["sandbox", "web"]}},
    }


def test_no_client_leaves_the_spec_alone() -> None:
    data = _data(a={"image": "x", "networks": ["sandbox"]})
    assert expand(data, context=CTX) is data


def test_clients_proxy_and_networks() -> None:
    data = _data(
        a={"image": "x", "networks": ["sandbox"], "egress": {"allow": ["allowed.test"]}},
        b={"image": "x", "egress": {"allow": []}, "depends_on": ["t"]},
    )
    out = expand(data, context=CTX)
    assert "services" not in data and data["agents"]["b"].get("networks") is None  # unchanged
    assert out["networks"]["egress-b"] == {"internal": True}
    assert out["networks"]["egress-out"] == {}
    proxy = out["services"][PROXY]
    assert proxy["networks"] == ["egress-b", "egress-out", "sandbox"]
    assert proxy["image"] == {"build": {"context": CTX}}
    assert proxy["security"]["read_only"] is True
    conf = proxy["env"]["AIFO_EGRESS_CONF"]
    assert "srcdomain aifo-s-a.aifo-s-sandbox" in conf
    assert "srcdomain aifo-s-b.aifo-s-egress-b" in conf
    a, b = out["agents"]["a"], out["agents"]["b"]
    assert a["env"]["HTTPS_PROXY"] == a["env"]["http_proxy"] == "http://egress-proxy:3128"
    assert a["env"]["NO_PROXY"] == "localhost,127.0.0.1,::1,aifo-s-t,t"
    assert b["env"]["NO_PROXY"] == "localhost,127.0.0.1,::1"
    assert b["networks"] == ["egress-b"]
    assert a["depends_on"] == [PROXY] and b["depends_on"] == ["t", PROXY]


def test_via_names_the_proxys_way_out() -> None:
    data = _data(a={"image": "x", "networks": ["sandbox"], "egress": {"allow": [], "via": "web"}})
    out = expand(data, context=CTX)
    assert "egress-out" not in out["networks"]
    assert out["services"][PROXY]["networks"] == ["sandbox", "web"]


def _spec(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "aifo.yaml"
    path.write_text("version: 1\nsession: s\n" + textwrap.dedent(body))
    return path


@pytest.mark.parametrize(
    ("body", "where", "message"),
    [
        (
            """\
            networks: {web: {}}
            agents: {a: {image: x, networks: [web], egress: {allow: [a.org]}}}
            """,
            "agents.a.networks[0]", "is not an internal network",
        ),
        (
            """\
            networks: {corp: {external: true}}
            agents: {a: {image: x, networks: [corp], egress: {allow: [a.org]}}}
            """,
            "agents.a.networks[0]", "is not an internal network",
        ),
        (
            """\
            networks: {web: {}}
            agents: {a: {image: x, egress: {allow: [a.org], via: wbe}}}
            """,
            "agents.a.egress.via", "unknown network 'wbe'",
        ),
        (
            "agents: {a: {image: x, egress: {allow: ['a.org:70000']}}}\n",
            "agents.a.egress.allow[0]", "out of range",
        ),
        (
            "agents: {a: {image: x, env: {HTTPS_PROXY: y}, egress: {allow: []}}}\n",
            "agents.a.env.HTTPS_PROXY", "set by aifo",
        ),
        (
            "services: {db: {image: x, egress: {allow: []}}}\n",
            "services.db.egress", "for agents and toolchains",
        ),
        (
            """\
            agents: {a: {image: x, egress: {allow: []}}}
            services: {egress-proxy: {image: x}}
            """,
            "services.egress-proxy", "taken by aifo's egress proxy",
        ),
        (
            """\
            networks: {egress-out: {internal: true}}
            agents: {a: {image: x, egress: {allow: []}}}
            """,
            "networks.egress-out", "taken by aifo's egress proxy",
        ),
    ],
)  # fmt: skip
def test_spec_errors_are_located(tmp_path: Path, body: str, where: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        resolve(_spec(tmp_path, body))
    text = str(info.value)
    assert "aifo.yaml:" in text and where in text and message in text, text


def test_egress_null_turns_an_inherited_allowlist_off(tmp_path: Path) -> None:
    path = _spec(
        tmp_path,
        """\
        extends: [agent/codex]
        networks: {web: {}}
        agents: {codex: {networks: [web], egress: null}}
        """,
    )
    assert "egress" not in resolve(path).data["agents"]["codex"]


def test_catalog_agents_reach_their_model_api_by_default(tmp_path: Path) -> None:
    data = resolve(_spec(tmp_path, "extends: [agent/codex]\n")).data
    assert "api.openai.com:443" in data["agents"]["codex"]["egress"]["allow"]


def test_every_session_shares_one_proxy_image_tagged_by_content(tmp_path: Path) -> None:
    """Per-session tags of the same image would pile up (images are never removed)."""
    from tests.compile.helpers import session

    refs = set()
    for name in ("one", "two"):
        spec = f"version: 1\nsession: {name}\nagents: {{a: {{image: x, egress: {{allow: []}}}}}}\n"
        (tmp_path / name).mkdir()
        compiled = session(tmp_path / name, spec)
        proxy = compiled.resources[f"service/{PROXY}"]
        assert isinstance(proxy, Container)
        refs.add(proxy.image)
    [ref] = refs
    assert ref.startswith("aifo-egress-proxy:") and len(ref.split(":")[1]) == 12
