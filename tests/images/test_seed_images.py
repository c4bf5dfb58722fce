"""scripts/seed-images: which tags it may move (pure logic, the script loaded as a module) and, on
the real engine, that the stand-ins it made are labelled and a warm run builds nothing."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import subprocess
import sys
from types import ModuleType
from typing import Any

import pytest

from tests.images.helpers import ROOT

SCRIPT = ROOT / "scripts" / "seed-images"


def load() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("seed_images", str(SCRIPT))
    spec = importlib.util.spec_from_loader("seed_images", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["seed_images"] = module  # dataclasses look their module up there
    loader.exec_module(module)
    return module


@pytest.fixture
def seed(monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, list[tuple[str, ...]]]:
    module = load()
    calls: list[tuple[str, ...]] = []

    def docker(*argv: str, **_: object) -> str:
        calls.append(argv)
        return ""

    monkeypatch.setattr(module, "docker", docker)
    return module, calls


def test_a_real_image_under_a_stand_in_tag_is_never_replaced(
    seed: tuple[ModuleType, list[tuple[str, ...]]],
) -> None:
    module, calls = seed
    rust = module.BY_NAME["rust"]
    have = {
        "rust:1.82-slim": module.Have("sha256:real", {}),  # pulled or built by the user
        "rust:1.82.0-slim-bookworm": module.Have("sha256:old", {module.STAND_IN: "true"}),
    }
    kept = module.retag(rust, "sha256:new", have)
    assert kept == ["rust:1.82-slim"]
    assert calls == [("tag", "sha256:new", "rust:1.82.0-slim-bookworm")]
    assert have["rust:1.82-slim"].id == "sha256:real"


def test_a_tag_already_on_the_stand_in_is_left_alone(
    seed: tuple[ModuleType, list[tuple[str, ...]]],
) -> None:
    module, calls = seed
    node = module.BY_NAME["node"]
    have = {tag: module.Have("sha256:n", {module.STAND_IN: "true"}) for tag in node.tags}
    assert module.retag(node, "sha256:n", have) == []
    assert calls == []


def test_every_input_change_changes_the_hash_of_the_image_and_its_children(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = load()
    before = module.seed_hashes()
    rootfs = module.BY_NAME["rootfs"]
    monkeypatch.setattr(module, "MMDEBSTRAP_OPTS", [*module.MMDEBSTRAP_OPTS, "--include=git"])
    after = module.seed_hashes()
    assert after["busybox"] == before["busybox"]  # unrelated
    for name in ("rootfs", "debian", "rust", "node", "python", "go", "gcc"):
        assert after[name] != before[name], name
    assert rootfs.parent is None


def test_only_takes_the_parents_along_and_refuses_unknown_names() -> None:
    module = load()
    assert [i.name for i in module.select("rust")] == ["rootfs", "debian", "rust"]
    with pytest.raises(module.Failed, match="no image 'ruby'"):
        module.select("ruby")


def _labels(ref: str) -> dict[str, Any]:
    out = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", ref],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if out.returncode != 0:
        pytest.fail(f"{ref} is missing: run scripts/seed-images")
    labels: dict[str, Any] = json.loads(out.stdout) or {}
    return labels


@pytest.mark.docker
@pytest.mark.parametrize("tag", [tag for image in load().IMAGES for tag in image.tags])
def test_each_public_tag_is_a_labelled_stand_in_with_its_real_versions(tag: str) -> None:
    labels = _labels(tag)
    if labels.get("io.aifo.stand-in") != "true":
        pytest.fail(f"{tag} is a real image here; these tests need the stand-ins")
    assert tag in labels["io.aifo.stand-in.for"].split()
    assert labels["io.aifo.stand-in.version"]
    assert labels["io.aifo.seed-hash"]


@pytest.mark.docker
@pytest.mark.slow
def test_a_warm_run_builds_nothing_and_says_what_stands_in_for_what() -> None:
    subprocess.run([str(SCRIPT)], capture_output=True, timeout=1800, check=True)  # warm it
    proc = subprocess.run([str(SCRIPT)], capture_output=True, text=True, timeout=120, check=True)
    assert "building" not in proc.stderr
    assert "rust:1.82-slim, rust:1.82.0-slim-bookworm ← Debian packages: rustc 1." in proc.stderr
