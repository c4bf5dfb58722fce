"""The package indexes of this host's tools as egress (aifo.host.indexes, pure) and the
commented-out block `aifo init` writes from them (issue 23). Hosts here are made up
(`.example`): aifo never names a real registry, in code or tests."""

from __future__ import annotations

import yaml

from aifo.host.indexes import PackageIndex, cargo_index, go_index, npm_index, pip_index
from aifo.sessionspec.starter import egress_block, render

MIRROR = "https://pkgs.corp.example/pypi/simple"


def test_pip_a_configured_index_wins_by_pips_precedence() -> None:
    config = (
        f"global.index-url='https://global.example/simple'\n"
        f"user.index-url='{MIRROR}'\n"
        "global.extra-index-url='file:///opt/wheels'\n"
    )
    found = pip_index(config, ("https://builtin.example/simple", "files.example"))
    assert found == PackageIndex(
        "pip", MIRROR, ("pkgs.corp.example:443",), (("PIP_INDEX_URL", MIRROR),),
        "pip's configuration",
    )  # fmt: skip
    env_first = pip_index(f":env:.index-url='http://env.example:8080/s'\n{config}", None)
    assert env_first is not None and env_first.allow == ("env.example:8080",)


def test_pip_without_configuration_uses_pips_builtin_index_and_its_file_host() -> None:
    found = pip_index("global.cert='/x'\n", ("https://builtin.example/simple", "files.example"))
    assert found is not None
    assert found.allow == ("builtin.example:443", "files.example:443")
    assert found.env == (("PIP_INDEX_URL", "https://builtin.example/simple"),)
    assert pip_index("", None) is None


def test_npm_go_and_cargo() -> None:
    npm = npm_index("https://npm.corp.example/repo/\n")
    assert npm is not None and npm.allow == ("npm.corp.example:443",)
    assert npm.env == (("npm_config_registry", "https://npm.corp.example/repo/"),)
    assert npm_index("undefined\n") is None
    go = go_index("https://goproxy.example,direct", "sum.example")
    assert go is not None and go.allow == ("goproxy.example:443", "sum.example:443")
    assert go.env == (("GOPROXY", "https://goproxy.example"),)
    assert go_index("direct", "off") is None
    cargo = cargo_index(
        '[source.crates-io]\nreplace-with = "corp"\n'
        '[source.corp]\nregistry = "sparse+https://crates.corp.example/index/"\n'
    )
    assert cargo is not None and cargo.allow == ("crates.corp.example:443",)
    assert cargo_index("") is None and cargo_index("not toml [") is None


def test_the_block_is_commented_out_and_valid_once_uncommented() -> None:
    npm = npm_index("https://npm.corp.example/\n")
    text = render("s", [("node", "package.json"), ("c-cpp", "Makefile")], None, {"node": npm})
    assert "npm.corp.example:443" in text and "opens npm.corp.example:443" in text
    assert yaml.safe_load(text)["toolchains"]["node"] == {"networks": ["sandbox"]}  # inert
    opened = "\n".join(
        line.replace("    # ", "    ", 1)
        if line.startswith(("    # egress", "    #   ", "    # env"))
        else line
        for line in text.splitlines()
    )
    node = yaml.safe_load(opened)["toolchains"]["node"]
    assert node["egress"] == {"allow": ["npm.corp.example:443"]}
    assert node["env"] == {"npm_config_registry": "https://npm.corp.example/"}
    assert egress_block("c-cpp", None) == []  # no package tool: no block
    unknown = egress_block("python", None)
    assert unknown and all(line.startswith("    # ") for line in unknown)
