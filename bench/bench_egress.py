"""Benchmark: the latency the egress proxy adds to a request, against the same request made
directly, on one local network.

Not a test: run `python bench/bench_egress.py [REQUESTS]` (default 300). It creates a bridge
network with a busybox httpd upstream (alias `upstream.test`), applies a session (with `aifo
apply`, so the proxy image is built and started as users get it) holding a client whose
`egress.allow` names the upstream (`via` that network) and a container on that network without
egress, then times REQUESTS sequential `wget`s in each container, inside one `docker exec`, best of
5 rounds. Per request: direct, through the proxy, the difference (what the proxy adds) and the
ratio. Everything is removed at the end, also on failure. Only local addresses are contacted.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

IMAGE = "aifo-test/busybox:latest"
ROUNDS = 5


def docker(*args: str, check: bool = True) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise SystemExit(f"docker {' '.join(args[:3])}: {done.stderr.strip()}")
    return done.stdout


def aifo(*args: str, env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "aifo", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"aifo {args[0]} failed:\n{done.stdout}{done.stderr}")


def spec(session: str, network: str) -> str:
    return textwrap.dedent(
        f"""\
        version: 1
        session: {session}
        networks:
          sandbox: {{internal: true}}
          upstream: {{external: true, name: {network}}}
        agents:
          client:
            image: {IMAGE}
            pull: never
            command: [sleep, infinity]
            networks: [sandbox]
            workspace: false
            egress: {{allow: ["upstream.test:80"], via: upstream}}
        toolchains:
          direct:
            image: {IMAGE}
            pull: never
            command: [sleep, infinity]
            networks: [upstream]
            workspace: false
        """
    )


def timed(container: str, requests: int) -> float:
    """Seconds per request: REQUESTS wgets in one exec, best of ROUNDS."""
    loop = (
        f"i=0; while [ $i -lt {requests} ]; do "
        "wget -q -O /dev/null http://upstream.test/ || exit 1; i=$((i+1)); done"
    )
    best = float("inf")
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        docker("exec", container, "sh", "-c", loop)
        best = min(best, time.perf_counter() - t0)
    return best / requests


def main() -> int:
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    tag = secrets.token_hex(3)
    session, network, upstream = f"bench-egress-{tag}", f"bench-egress-{tag}-up", f"bench-up-{tag}"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "www").mkdir()
        (root / "www" / "index.html").write_text("x" * 1024)
        (root / "www").chmod(0o755)
        spec_file = root / "aifo.yaml"
        spec_file.write_text(spec(session, network))
        env = {"AIFO_STATE_DIR": str(root / "state")}
        docker("network", "create", "--label", "io.aifo.bench=egress", network)
        try:
            docker(
                "run", "-d", "--name", upstream, "--network", network,
                "--network-alias", "upstream.test", "--label", "io.aifo.bench=egress",
                "--mount", f"type=bind,src={root / 'www'},dst=/www,readonly",
                IMAGE, "httpd", "-f", "-p", "80", "-h", "/www",
            )  # fmt: skip
            t0 = time.perf_counter()
            aifo("apply", str(spec_file), "--yes", env=env)
            apply_s = time.perf_counter() - t0
            direct = timed(f"aifo-{session}-direct", requests)
            proxied = timed(f"aifo-{session}-client", requests)
        finally:
            subprocess.run(
                [sys.executable, "-m", "aifo", "destroy", str(spec_file), "--yes"],
                capture_output=True, env={**os.environ, **env}, check=False,
            )  # fmt: skip
            docker("rm", "-f", upstream, check=False)
            docker("network", "rm", network, check=False)
    print(f"egress proxy latency: {requests} sequential GETs of 1 KiB, best of {ROUNDS}")
    print(f"  apply (proxy image cached): {apply_s:.2f} s")
    print(f"  direct:          {direct * 1000:7.2f} ms/request")
    print(f"  through proxy:   {proxied * 1000:7.2f} ms/request")
    print(f"  added by proxy:  {(proxied - direct) * 1000:7.2f} ms/request")
    print(f"  ratio:           {proxied / direct:7.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
