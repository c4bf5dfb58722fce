"""Benchmark: `aifo --engine swarm apply` of N sessions of 2 containers across a 2-node swarm,
against the Engine API floor and against `docker stack deploy` (issue 25).

Sizes: 5 and 25 sessions (10 and 50 containers). Each session is an internal overlay and two
services (agent, toolchain), pinned to one node; sessions alternate between the nodes.

- aifo: one `aifo apply --yes` per session, up to 8 at once (each is a transaction of its own);
  it returns when every task runs and was verified.
- floor: the same objects through the manager's Engine API, 8 requests in flight: per session
  `POST /networks/create` (overlay, internal, attachable), two `POST /services/create` (one
  replica, pinned, dnsrr, the secure defaults aifo sets), then `GET /tasks` until every task
  runs.
- stack: `docker stack deploy -c FILE` of one compose file with the same networks and services
  (placement constraints, internal overlays), then `docker service ls`-free polling of
  `GET /tasks` until every task runs.

The three take turns going first, round by round (load drift hits all of them); the per-round
ratios and the medians are printed. The swarm is this script's own (`scripts/swarm-nodes up
--name sw-bench-PID`, torn down at the end unless --keep).

    .venv/bin/python bench/bench_swarm.py --repeat 3       # goal: aifo <= 1.10 x floor, < stack
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "runner"))

from aifo.engine.wire import Wire  # noqa: E402

IMAGE = "aifo-test/busybox:latest"
IDLE = ["sleep", "2147483647"]
AIFO = [sys.executable, "-m", "aifo"]  # AIFO_ENGINE=swarm in the environment
WIDTH = 8


def sh(*argv: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise subprocess.CalledProcessError(done.returncode, argv)
    return done.stdout


def swarm_env(name: str) -> dict[str, str]:
    """DOCKER_HOST (the manager) and AIFO_SWARM_NODES, from `scripts/swarm-nodes env`."""
    env = dict(os.environ)
    for line in sh(str(ROOT / "scripts/swarm-nodes"), "env", "--name", name).splitlines():
        line = line.removeprefix("export ").strip()
        if "=" in line:
            key, value = line.split("=", 1)
            env[key] = shlex.split(value)[0] if value else ""
    return env


class Manager:
    """The manager's Engine API; raises on any failed request."""

    def __init__(self, env: dict[str, str]) -> None:
        self.wire = Wire(env["DOCKER_HOST"].removeprefix("unix://"), timeout_s=120)

    def __call__(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        reply = self.wire.request(method, path, body=body, query=query or None)
        if not reply.ok:
            raise RuntimeError(f"{method} {path}: {reply.status} {reply.message()}")
        return reply.json()

    def nodes(self) -> list[str]:
        return sorted(str(n["ID"]) for n in self("GET", "/nodes"))

    def tasks(self, label: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self(
            "GET", "/tasks", filters=f'{{"label":["{label}"],"desired-state":["running"]}}'
        )
        return found

    def wait_running(self, label: str, count: int, timeout_s: float = 300) -> None:
        """Until `count` tasks of services labelled `label` run (a rejected one: fail)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            tasks = self.tasks(label)
            bad = [t for t in tasks if t["Status"]["State"] in ("rejected", "failed")]
            if bad:
                raise RuntimeError(f"task {bad[0]['Status']['State']}: {bad[0]['Status']['Err']}")
            if sum(t["Status"]["State"] == "running" for t in tasks) >= count:
                return
            time.sleep(0.05)
        raise RuntimeError(f"{label}: {count} tasks did not run within {timeout_s:g} s")

    def remove_labelled(self, label: str) -> None:
        """Services, then (once their task containers are gone) networks, by label."""
        for service in self("GET", "/services", filters=f'{{"label":["{label}"]}}'):
            self("DELETE", f"/services/{service['ID']}")
        deadline = time.monotonic() + 120
        while self.tasks(label) and time.monotonic() < deadline:
            time.sleep(0.2)
        for _ in range(60):
            nets = self("GET", "/networks", filters=f'{{"label":["{label}"]}}')
            if not nets:
                return
            for net in nets:
                self.wire.request("DELETE", f"/networks/{net['Id']}")
            time.sleep(0.5)


def service_body(name: str, net: str, node: str, label: str) -> dict[str, Any]:
    """What aifo asks of a service (one replica, pinned, dnsrr, the secure defaults)."""
    labels = {"io.aifo.bench": label}
    return {
        "Name": name,
        "Labels": labels,
        "TaskTemplate": {
            "ContainerSpec": {
                "Image": IMAGE,
                "Command": IDLE,
                "Labels": labels,
                "Init": True,
                "ReadOnly": True,
                "CapabilityDrop": ["ALL"],
                "Mounts": [{"Type": "tmpfs", "Target": "/tmp"}],
            },
            "Resources": {"Limits": {"Pids": 4096}},
            "RestartPolicy": {"Condition": "none"},
            "Placement": {"Constraints": [f"node.id=={node}"]},
            "Networks": [{"Target": net, "Aliases": [name.rsplit("-", 1)[-1]]}],
        },
        "Mode": {"Replicated": {"Replicas": 1}},
        "EndpointSpec": {"Mode": "dnsrr"},
    }


def floor_round(api: Manager, sessions: int, tag: str, nodes: list[str]) -> float:
    label = f"io.aifo.bench={tag}"

    def one(i: int) -> None:
        net = f"{tag}-{i}-sandbox"
        body = {"Name": net, "Driver": "overlay", "Internal": True, "Attachable": True,
                "Labels": {"io.aifo.bench": tag}}  # fmt: skip
        api("POST", "/networks/create", body)
        for role in ("agent", "tool"):
            api("POST", "/services/create",
                service_body(f"{tag}-{i}-{role}", net, nodes[i % len(nodes)], tag))  # fmt: skip

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=WIDTH) as pool:
        list(pool.map(one, range(sessions)))
    api.wait_running(label, 2 * sessions)
    took = time.perf_counter() - started
    api.remove_labelled(label)
    return took


def compose_file(sessions: int, tag: str, nodes: list[str]) -> str:
    lines = ['version: "3.8"', "services:"]
    for i in range(sessions):
        for role in ("agent", "tool"):
            lines += [
                f"  s{i}-{role}:",
                f"    image: {IMAGE}",
                f"    command: {IDLE}",
                "    init: true",
                "    read_only: true",
                "    cap_drop: [ALL]",
                "    tmpfs: [/tmp]",
                f"    labels: {{io.aifo.bench: {tag}}}",
                "    networks: {" + f"s{i}: {{aliases: [{role}]}}" + "}",
                "    deploy:",
                "      endpoint_mode: dnsrr",
                "      restart_policy: {condition: none}",
                f"      labels: {{io.aifo.bench: {tag}}}",
                f"      placement: {{constraints: [node.id=={nodes[i % len(nodes)]}]}}",
            ]
    lines.append("networks:")
    for i in range(sessions):
        lines.append(f"  s{i}: {{driver: overlay, internal: true, attachable: true}}")
    return "\n".join(lines) + "\n"


def stack_round(api: Manager, env: dict[str, str], sessions: int, tag: str, nodes: list[str],
                folder: Path) -> float:  # fmt: skip
    path = folder / f"{tag}.yaml"
    path.write_text(compose_file(sessions, tag, nodes))
    started = time.perf_counter()
    sh("docker", "stack", "deploy", "-c", str(path), tag, env=env)
    api.wait_running(f"io.aifo.bench={tag}", 2 * sessions)
    took = time.perf_counter() - started
    sh("docker", "stack", "rm", tag, env=env)
    api.remove_labelled(f"com.docker.stack.namespace={tag}")
    return took


def spec(session: str) -> str:
    box = f"image: {IMAGE}\n    pull: never\n    command: {IDLE}\n    networks: [sandbox]"
    return (
        f"version: 1\nsession: {session}\nnetworks:\n  sandbox: {{internal: true}}\n"
        f"agents:\n  agent:\n    {box}\n    workspace: false\n"
        f"toolchains:\n  tool:\n    {box}\n    workspace: false\n"
    )


def aifo_round(
    env: dict[str, str], sessions: int, tag: str, folder: Path, aifo: list[str] = AIFO
) -> float:
    names = [f"{tag}-{i}" for i in range(sessions)]
    files = []
    for name in names:
        path = folder / name / "aifo.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(spec(name))
        files.append(path)

    def apply(path: Path) -> None:
        sh(*aifo, "-f", str(path), "apply", "--yes", env=env, cwd=path.parent)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=WIDTH) as pool:
        list(pool.map(apply, files))
    took = time.perf_counter() - started

    def destroy(path: Path) -> None:
        sh(*aifo, "-f", str(path), "destroy", "--yes", env=env, cwd=path.parent)

    with ThreadPoolExecutor(max_workers=WIDTH) as pool:
        list(pool.map(destroy, files))
    return took


def ratios(a: list[float], b: list[float]) -> str:
    each = [x / y for x, y in zip(a, b, strict=True)]
    return ", ".join(f"{x:.2f}" for x in each) + f" (median {statistics.median(each):.2f}"


def one_size(api: Manager, env: dict[str, str], sessions: int, repeat: int, nodes: list[str],
             folder: Path, baseline: str | None = None) -> None:  # fmt: skip
    """`repeat` rounds of the peers at one size, taking turns going first."""
    results: dict[str, list[float]] = {"aifo": [], "floor": [], "stack": []}
    if baseline:
        results["before"] = []
    for r in range(repeat):
        tag = f"bsw{os.getpid() % 10000}-{sessions}-{r}"
        peers: list[tuple[str, Callable[[], float]]] = [
            ("aifo", lambda t=tag: aifo_round(env, sessions, f"{t}a", folder)),
            ("floor", lambda t=tag: floor_round(api, sessions, f"{t}f", nodes)),
            ("stack", lambda t=tag: stack_round(api, env, sessions, f"{t}s", nodes, folder)),
        ]
        if baseline:  # another tree's aifo (its interpreter), in the same rounds
            before = [baseline, "-m", "aifo"]
            peers.append(
                ("before", lambda t=tag, b=before: aifo_round(env, sessions, f"{t}b", folder, b))
            )
        for name, run in peers[r % len(peers) :] + peers[: r % len(peers)]:
            results[name].append(run())
    med = {k: statistics.median(v) for k, v in results.items()}
    print(
        f"{sessions} sessions ({2 * sessions} containers), median of {repeat}: "
        f"aifo {med['aifo']:.2f}s, floor {med['floor']:.2f}s, stack deploy {med['stack']:.2f}s"
    )
    print("  aifo / floor: " + ratios(results["aifo"], results["floor"]) + "; goal <= 1.10)")
    print("  aifo / stack: " + ratios(results["aifo"], results["stack"]) + "; goal < 1)")
    if baseline:
        print(f"  before: {med['before']:.2f}s; before / floor: "
              + ratios(results["before"], results["floor"]) + ")")  # fmt: skip
        print("  aifo / before: " + ratios(results["aifo"], results["before"]) + ")")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5,25", help="sessions of 2 containers per round")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--name", default=f"sw-bench-{os.getpid() % 100000}")
    parser.add_argument("--keep", action="store_true", help="leave the swarm up at the end")
    parser.add_argument(
        "--baseline", metavar="PYTHON",
        help="also time the aifo of this interpreter (another tree's .venv/bin/python)",
    )  # fmt: skip
    parser.add_argument(
        "--swarm", metavar="NAME", help="use this running scripts/swarm-nodes swarm (kept up)"
    )
    args = parser.parse_args()
    nodes_script = str(ROOT / "scripts/swarm-nodes")
    if args.swarm:
        args.name, args.keep = args.swarm, True
    else:
        sh(nodes_script, "up", "--name", args.name)
    try:
        sh(nodes_script, "load", "--name", args.name, IMAGE)
        env = swarm_env(args.name)
        api = Manager(env)
        nodes = api.nodes()
        print(f"swarm {args.name}: {len(nodes)} nodes")
        with tempfile.TemporaryDirectory(prefix="benchswarm-") as tmp:
            env["AIFO_STATE_DIR"] = str(Path(tmp) / "state")
            env["AIFO_ENGINE"] = "swarm"
            for sessions in (int(s) for s in args.sizes.split(",")):
                one_size(api, env, sessions, args.repeat, nodes, Path(tmp), args.baseline)
    finally:
        if not args.keep:
            sh(nodes_script, "down", "--name", args.name)


if __name__ == "__main__":
    main()
