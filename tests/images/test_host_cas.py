"""trust_host_cas: the Dockerfile rewrite (pure), where the host's bundle is found, compile (the
bundle's hash is part of the build; no bundle is a located error), and on the real engine a build
whose RUN step and whose container see the host's CAs."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from aifo.compile import compile_session
from aifo.errors import SpecError
from aifo.host.cas import IMAGE_PATH, VARIABLES, find_bundle, trust_dockerfile
from tests.compile.helpers import context, resolved
from tests.images.helpers import aifo

COPY = f"COPY --from=ca:1 /ca-certificates.crt {IMAGE_PATH}"


def test_every_stage_trusts_the_bundle_right_after_its_from() -> None:
    text = "# syntax=docker/dockerfile:1\nFROM a AS one\nRUN x\nfrom b\nRUN y\n"
    out = trust_dockerfile(text, "ca:1").splitlines()
    assert out[:4] == ["# syntax=docker/dockerfile:1", "FROM a AS one", COPY, out[3]]
    assert out[3].startswith("ENV ") and all(f"{v}={IMAGE_PATH}" in out[3] for v in VARIABLES)
    assert out[4:8] == ["RUN x", "from b", COPY, out[3]]
    assert out[8] == "RUN y"


def test_a_from_with_continuation_lines_gets_it_after_the_last_one() -> None:
    out = trust_dockerfile("FROM \\\n  a\nRUN x\n", "ca:1").splitlines()
    assert out[:3] == ["FROM \\", "  a", COPY]
    backtick = trust_dockerfile("# escape=`\nFROM `\n  a\nRUN x\n", "ca:1").splitlines()
    assert backtick[:4] == ["# escape=`", "FROM `", "  a", COPY]


def test_the_bundle_is_ssl_cert_file_when_set_else_the_system_one(tmp_path: Path) -> None:
    mine = tmp_path / "corp.pem"
    mine.write_text("-----BEGIN CERTIFICATE-----\n")
    assert find_bundle({"SSL_CERT_FILE": str(mine)}) == str(mine)
    for name, text in [
        ("empty.pem", ""),
        ("key.pem", "-----BEGIN CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\n"),
        ("notes.txt", "hello\n"),
    ]:
        other = tmp_path / name
        other.write_text(text)
        assert find_bundle({"SSL_CERT_FILE": str(other)}) != str(other), name  # never copied


SPEC = """\
version: 1
session: demo
agents:
  a:
    image:
      build:
        context: ./ctx
        trust_host_cas: {trust}
"""


def _compile(tmp_path: Path, trust: str | None, bundle: tuple[str, str] | None) -> object:
    (tmp_path / "ctx").mkdir(exist_ok=True)
    (tmp_path / "ctx" / "Dockerfile").write_text("FROM scratch\n")
    text = SPEC.format(trust=trust)
    if trust is None:
        text = text.replace("        trust_host_cas: None\n", "")
    spec = resolved(tmp_path, text)
    return compile_session(spec, context=context(ca_bundle=lambda: bundle))


def test_the_bundle_is_part_of_the_build_identity(tmp_path: Path) -> None:
    off = _compile(tmp_path, "false", ("/b.pem", "1" * 64))
    one = _compile(tmp_path, "true", ("/b.pem", "1" * 64))
    two = _compile(tmp_path, "true", ("/b.pem", "2" * 64))
    refs = [s.images[0].ref for s in (off, one, two)]  # type: ignore[attr-defined]
    assert len(set(refs)) == 3, refs
    absent = _compile(tmp_path, None, ("/b.pem", "1" * 64))  # the default is false
    assert absent.images[0].ref == refs[0]  # type: ignore[attr-defined]
    build = one.images[0].build  # type: ignore[attr-defined]
    assert build.ca_bundle == "/b.pem" and build.ca_bundle_hash == "1" * 64
    assert off.images[0].build.ca_bundle is None  # type: ignore[attr-defined]


def test_no_bundle_on_the_host_is_a_located_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        _compile(tmp_path, "true", None)
    text = str(caught.value)
    assert "aifo.yaml:8:" in text and "trust_host_cas" in text and "SSL_CERT_FILE" in text


@pytest.mark.docker
@pytest.mark.slow
def test_the_build_and_the_container_trust_the_host_bundle(
    session_name: str, tmp_path: Path, busybox_image: str
) -> None:
    bundle = tmp_path / "corp-ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\nMIIBcorp\n-----END CERTIFICATE-----\n")
    digest = hashlib.sha256(bundle.read_bytes()).hexdigest()
    (tmp_path / "ctx").mkdir()
    # The build's own RUN step must see it (a package install behind a TLS-intercepting proxy).
    (tmp_path / "ctx" / "Dockerfile").write_text(
        f'FROM {busybox_image}\nRUN grep -q MIIBcorp "$SSL_CERT_FILE" && grep -q MIIBcorp '
        '"$NODE_EXTRA_CA_CERTS"\n'
    )
    spec = tmp_path / "aifo.yaml"
    spec.write_text(
        SPEC.replace("session: demo", f"session: {session_name}").format(trust="true")
        + "    command: [sleep, infinity]\n    workspace: false\n"
    )
    state = tmp_path / "state"
    env = {"SSL_CERT_FILE": str(bundle)}
    try:
        proc = aifo("apply", spec, "--yes", state=state, env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        out = aifo(
            "exec",
            spec,
            "a",
            "--",
            "sh",
            "-c",
            "cat $REQUESTS_CA_BUNDLE; echo $PIP_CERT",
            state=state,
            env=env,
        )
        assert out.returncode == 0, out.stderr
        assert "MIIBcorp" in out.stdout and IMAGE_PATH in out.stdout
        labels = json.loads(
            subprocess.run(
                [
                    "docker",
                    "image",
                    "inspect",
                    "--format",
                    "{{json .Config.Labels}}",
                    f"aifo-host-ca:{digest[:12]}",
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        assert labels["io.aifo.host-ca"] == "true"
    finally:
        aifo("destroy", spec, "--yes", state=state, env=env)
        images = subprocess.run(
            ["docker", "images", "-q", "--filter", f"label=io.aifo.session={session_name}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        ).stdout.split()
        subprocess.run(
            ["docker", "image", "rm", "-f", *set(images), f"aifo-host-ca:{digest[:12]}"],
            capture_output=True,
            timeout=60,
            check=False,
        )
