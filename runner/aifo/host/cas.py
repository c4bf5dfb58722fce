"""Trusting this host's CA certificates in built images (`image.build.trust_host_cas: true`).

Corporate networks often intercept TLS with their own CA; package managers inside a build then fail
with "self-signed certificate in certificate chain". With the setting on, the host's CA bundle (the
system bundle, which holds the extra CAs the host trusts) is copied into every stage of the build
right after its `FROM`, and the usual variables point at it, for the build's own `RUN` steps and
for the containers that run the image. The bundle's hash is part of the build's identity: a new
host CA rebuilds the image.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path

from aifo.host.files import read_bounded

# Where the bundle lives inside the image, and the variables pointing at it: OpenSSL and curl,
# Python's requests and pip, and Node (whose official binaries ignore the system store).
IMAGE_PATH = "/etc/ssl/certs/aifo-host-ca.crt"
VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT", "NODE_EXTRA_CA_CERTS")
# The system bundles of the common distributions, in the order they are looked for.
SYSTEM_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Alpine, Arch
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL
    "/etc/ssl/ca-bundle.pem",  # openSUSE
    "/etc/ssl/cert.pem",  # macOS, BSDs
)
MAX_BUNDLE_BYTES = 16 * 1024 * 1024  # a CA bundle is ~200 kB; anything huge is not one


def find_bundle(environ: Mapping[str, str]) -> str | None:
    """This host's CA bundle: `$SSL_CERT_FILE` when set, else the system's; None when absent."""
    candidates = [environ["SSL_CERT_FILE"]] if environ.get("SSL_CERT_FILE") else []
    for path in [*candidates, *SYSTEM_BUNDLES]:
        p = Path(path)
        if p.is_file() and 0 < p.stat().st_size <= MAX_BUNDLE_BYTES and _is_bundle(p):
            return str(p.resolve())
    return None


def _is_bundle(path: Path) -> bool:
    """Certificates and nothing else: a private key must never end up in an image."""
    try:  # a regular file under the cap, read without blocking (aifo.host.files)
        data = read_bounded(path, MAX_BUNDLE_BYTES)
    except OSError:
        return False
    return b"-----BEGIN CERTIFICATE-----" in data and b"PRIVATE KEY" not in data


def bundle_hash(path: str) -> str:
    return hashlib.sha256(read_bounded(path, MAX_BUNDLE_BYTES)).hexdigest()


_FROM = re.compile(r"^\s*FROM\s", re.IGNORECASE)
_ESCAPE = re.compile(r"^#\s*escape\s*=\s*(\S)\s*$", re.IGNORECASE)


def trust_dockerfile(text: str, ca_image: str) -> str:
    """The Dockerfile with the bundle copied from `ca_image` and the variables set right after
    every `FROM` instruction (continuation lines included), so each stage trusts it."""
    lines = text.splitlines()
    escape = "\\"
    for line in lines:  # parser directives come first; `# escape=`` ` changes the continuation
        if not line.startswith("#"):
            break
        match = _ESCAPE.match(line)
        if match:
            escape = match.group(1)
    env = " ".join(f"{name}={IMAGE_PATH}" for name in VARIABLES)
    inject = [f"COPY --from={ca_image} /ca-certificates.crt {IMAGE_PATH}", f"ENV {env}"]
    out: list[str] = []
    in_from = False
    for line in lines:
        out.append(line)
        if not in_from and _FROM.match(line):
            in_from = True
        if in_from and not line.rstrip().endswith(escape):
            out += inject
            in_from = False
    return "\n".join(out) + "\n"
