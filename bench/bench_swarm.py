"""Benchmark: `aifo --engine swarm apply` of N sessions of 2 containers across a 2-node swarm,
against the Engine API floor and against `docker stack deploy` (issue 25).

Sizes: 5 and 25 sessions (10 and 50 containers). Each session is an internal overlay and two
services (agent, toolchain), pinned to one node; sessions alternate between the nodes.

- aifo: one `aifo apply --yes` per session, up to 8 at once (each is a transaction of its own);
  it returns when every task runs and was verified.
- floor: the same objects through the manager's Engine API, 8 requests in flight: per session
  `POST /networks/create` (overlay, internal, attachable), two `POST /services/create` (one
  replica, pinned, dnsrr, the secure defaults, user and HOME aifo sets, and HOME and /tmp as
  `local` tmpfs volumes, as aifo mounts every tmpfs on Swarm: its tmpfs mounts are noexec),
  then `GET /tasks` until every task runs.
- stack: `docker stack deploy -c FILE` of one compose file with the same networks, services
  and volumes (placement constraints, internal overlays, tmpfs volumes), then the same
  polling of `GET /tasks` until every task runs.

The three take turns going first, round by round (load drift hits all of them); the per-round
ratios and the medians are printed. With them, what each round cost in CPU: this script's and
its children's (the aifo processes, the docker CLI) and the swarm's (both DinD nodes' cgroups:
their dockerd, containerd, shims and tasks). On this one 2-core machine the nodes and the client
share the cores, so where the floor keeps them busy, CPU is time; and CPU, unlike wall time,
is hardly moved by other load on the machine. `floor+verify` is the floor plus one
`/proc/1/status` exec per task on its node: the facts check the issue asks aifo for. The swarm
is this script's own (`scripts/swarm-nodes up --name sw-bench-PID`, torn down at the end
unless --keep).

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
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "runner"))

from aifo.engine.wire import Wire  # noqa: E402

IMAGE = "aifo-test/busybox:latest"
IDLE = ["sleep", "2147483647"]
AIFO = [sys.executable, "-m", "aifo"]  # AIFO_ENGINE=swarm in the environment
WIDTH = 8


class Cpu:
    """CPU seconds used so far by this process and its waited-for children (the client) and by
    the swarm's nodes (their containers' cgroups, cgroup v1 `cpuacct` or v2 `cpu.stat`)."""

    def __init__(self, swarm: str) -> None:
        ids = sh("docker", "inspect", "-f", "{{.Id}}", f"{swarm}-n1", f"{swarm}-n2").split()
        self.files = [_cgroup_cpu_file(i) for i in ids]

    def now(self) -> tuple[float, float]:
        t = os.times()
        client = t.user + t.system + t.children_user + t.children_system
        nodes = 0.0
        for path in self.files:
            if path is None:
                return client, float("nan")
            text = path.read_text()
            if path.name == "cpuacct.usage":
                nodes += int(text) / 1e9
            else:
                usage = next(ln for ln in text.splitlines() if ln.startswith("usage_usec"))
                nodes += int(usage.split()[1]) / 1e6
        return client, nodes


@dataclass
class Took:
    """One round: wall seconds, and CPU seconds of the client and of the swarm's nodes."""

    wall: float = 0.0
    client: float = 0.0
    nodes: float = 0.0


CPU: Cpu | None = None  # set once the swarm is up


@contextmanager
def measured() -> Iterator[Took]:
    took = Took()
    c0, n0 = CPU.now() if CPU else (0.0, 0.0)
    started = time.perf_counter()
    yield took
    took.wall = time.perf_counter() - started
    c1, n1 = CPU.now() if CPU else (0.0, 0.0)
    took.client, took.nodes = c1 - c0, n1 - n0


def _cgroup_cpu_file(container_id: str) -> Path | None:
    for path in (
        Path(f"/sys/fs/cgroup/cpuacct/docker/{container_id}/cpuacct.usage"),
        Path(f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope/cpu.stat"),
        Path(f"/sys/fs/cgroup/docker/{container_id}/cpu.stat"),
    ):
        if path.exists():
            return path
    return None


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
        # each node's own engine, by hostname (AIFO_SWARM_NODES: NAME=unix://PATH,...)
        self.node_wires = {
            name: Wire(path.removeprefix("unix://"), timeout_s=120)
            for name, _, path in (i.partition("=") for i in env["AIFO_SWARM_NODES"].split(","))
        }

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

    def wait_running(self, label: str, count: int, timeout_s: float = 300) -> list[dict[str, Any]]:
        """Until `count` tasks of services labelled `label` run (a rejected one: fail); them."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            tasks = self.tasks(label)
            bad = [t for t in tasks if t["Status"]["State"] in ("rejected", "failed")]
            if bad:
                raise RuntimeError(f"task {bad[0]['Status']['State']}: {bad[0]['Status']['Err']}")
            running = [t for t in tasks if t["Status"]["State"] == "running"]
            if len(running) >= count:
                return running
            time.sleep(0.05)
        raise RuntimeError(f"{label}: {count} tasks did not run within {timeout_s:g} s")

    def remove_labelled(self, label: str) -> None:
        """Services, then (once their task containers are gone) networks, by label."""
        for service in self("GET", "/services", filters=f'{{"label":["{label}"]}}'):
            self("DELETE", f"/services/{service['ID']}")
        deadline = time.monotonic() + 120
        while self.tasks(label) and time.monotonic() < deadline:
            time.sleep(0.2)
        query = {"filters": f'{{"label":["{label}"]}}'}
        for _ in range(60):
            nets = self("GET", "/networks", filters=f'{{"label":["{label}"]}}')
            volumes = [
                (wire, v["Name"])
                for wire in self.node_wires.values()
                for v in (wire.request("GET", "/volumes", query=query).json() or {}).get("Volumes")
                or []
            ]
            if not nets and not volumes:
                return
            for net in nets:
                self.wire.request("DELETE", f"/networks/{net['Id']}")
            for wire, volume in volumes:  # the tasks' tmpfs volumes, once their containers go
                wire.request("DELETE", f"/volumes/{volume}")
            time.sleep(0.5)


# Swarm's tmpfs mounts are noexec (API 1.41), so aifo mounts each tmpfs of its spec (HOME and
# /tmp of every container here) as a `local` volume of type tmpfs: the floor makes the same
TMPFS = {"device": "tmpfs", "type": "tmpfs", "o": "mode=1777,nosuid,nodev"}
HOME = "/home/aifo"


def tmpfs_volume(source: str, target: str, label: str) -> dict[str, Any]:
    return {
        "Type": "volume", "Source": source, "Target": target,
        "VolumeOptions": {"Labels": {"io.aifo.bench": label},
                          "DriverConfig": {"Name": "local", "Options": TMPFS}},
    }  # fmt: skip


def service_body(name: str, net: str, node: str, label: str) -> dict[str, Any]:
    """What aifo asks of a service: one replica, pinned, dnsrr, the secure defaults, the user
    and HOME, HOME and /tmp as tmpfs volumes."""
    labels = {"io.aifo.bench": label}
    return {
        "Name": name,
        "Labels": labels,
        "TaskTemplate": {
            "ContainerSpec": {
                "Image": IMAGE,
                "Command": IDLE,
                "Labels": labels,
                "Env": [f"HOME={HOME}"],
                "User": f"{os.getuid()}:{os.getgid()}",
                "Init": True,
                "ReadOnly": True,
                "CapabilityDrop": ["ALL"],
                "Mounts": [
                    tmpfs_volume(f"{name}.home", HOME, label),
                    tmpfs_volume(f"{name}.tmp", "/tmp", label),
                ],
            },
            "Resources": {"Limits": {"Pids": 4096}},
            "RestartPolicy": {"Condition": "none"},
            "Placement": {"Constraints": [f"node.id=={node}"]},
            "Networks": [{"Target": net, "Aliases": [name.rsplit("-", 1)[-1]]}],
        },
        "Mode": {"Replicated": {"Replicas": 1}},
        "EndpointSpec": {"Mode": "dnsrr"},
    }


def floor_round(api: Manager, sessions: int, tag: str, nodes: list[str],
                verify: Verifier | None = None) -> Took:  # fmt: skip
    """The floor; with `verify`, also one `/proc/1/status` exec per task on its node, as the
    issue asks aifo to do (the floor of what aifo must do, not a peer of its own)."""
    label = f"io.aifo.bench={tag}"

    def one(i: int) -> None:
        net = f"{tag}-{i}-sandbox"
        body = {"Name": net, "Driver": "overlay", "Internal": True, "Attachable": True,
                "Labels": {"io.aifo.bench": tag}}  # fmt: skip
        api("POST", "/networks/create", body)
        for role in ("agent", "tool"):
            api("POST", "/services/create",
                service_body(f"{tag}-{i}-{role}", net, nodes[i % len(nodes)], tag))  # fmt: skip

    with measured() as took:
        with ThreadPoolExecutor(max_workers=WIDTH) as pool:
            list(pool.map(one, range(sessions)))
        tasks = api.wait_running(label, 2 * sessions)
        if verify is not None:
            with ThreadPoolExecutor(max_workers=WIDTH) as pool:
                list(pool.map(verify, tasks))
    api.remove_labelled(label)
    return took


class Verifier:
    """`cat /proc/1/status` in a task's container through its node's engine (AIFO_SWARM_NODES),
    checked for NoNewPrivs 1: what aifo's verification does per task, at the API's cost."""

    def __init__(self, api: Manager) -> None:
        self.wires = {
            str(n["ID"]): api.node_wires[n["Description"]["Hostname"]] for n in api("GET", "/nodes")
        }

    def __call__(self, task: dict[str, Any]) -> None:
        wire = self.wires[task["NodeID"]]
        cid = task["Status"]["ContainerStatus"]["ContainerID"]
        body = {"Cmd": ["cat", "/proc/1/status"], "AttachStdout": True}
        made = wire.request("POST", f"/containers/{cid}/exec", body=body)
        out = wire.request("POST", f"/exec/{made.json()['Id']}/start", body={"Detach": False})
        if b"NoNewPrivs:\t1" not in out.body:
            raise RuntimeError(f"task {task['ID']}: no NoNewPrivs 1 in {out.body[:200]!r}")


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
                f"    user: '{os.getuid()}:{os.getgid()}'",
                f"    environment: [HOME={HOME}]",
                f"    volumes: [s{i}-{role}-home:{HOME}, s{i}-{role}-tmp:/tmp]",
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
    lines.append("volumes:")
    options = ", ".join(f"{k}: '{v}'" for k, v in TMPFS.items())
    for i in range(sessions):
        for name in (f"s{i}-{r}-{m}" for r in ("agent", "tool") for m in ("home", "tmp")):
            lines.append(f"  {name}: {{driver: local, driver_opts: {{{options}}}, "
                         f"labels: {{io.aifo.bench: {tag}}}}}")  # fmt: skip
    return "\n".join(lines) + "\n"


def stack_round(api: Manager, env: dict[str, str], sessions: int, tag: str, nodes: list[str],
                folder: Path) -> Took:  # fmt: skip
    path = folder / f"{tag}.yaml"
    path.write_text(compose_file(sessions, tag, nodes))
    with measured() as took:
        sh("docker", "stack", "deploy", "-c", str(path), tag, env=env)
        api.wait_running(f"io.aifo.bench={tag}", 2 * sessions)
    sh("docker", "stack", "rm", tag, env=env)
    api.remove_labelled(f"com.docker.stack.namespace={tag}")
    api.remove_labelled(f"io.aifo.bench={tag}")  # the tasks' volumes
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
) -> Took:
    names = [f"{tag}-{i}" for i in range(sessions)]
    files = []
    for name in names:
        path = folder / name / "aifo.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(spec(name))
        files.append(path)

    def apply(path: Path) -> None:
        sh(*aifo, "-f", str(path), "apply", "--yes", env=env, cwd=path.parent)

    with measured() as took, ThreadPoolExecutor(max_workers=WIDTH) as pool:
        list(pool.map(apply, files))

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
    verifier = Verifier(api)
    peers: dict[str, Callable[[str], Took]] = {
        "aifo": lambda t: aifo_round(env, sessions, f"{t}a", folder),
        "floor": lambda t: floor_round(api, sessions, f"{t}f", nodes),
        "floor+verify": lambda t: floor_round(api, sessions, f"{t}v", nodes, verifier),
        "stack": lambda t: stack_round(api, env, sessions, f"{t}s", nodes, folder),
    }
    if baseline:  # another tree's aifo (its interpreter), in the same rounds
        before = [baseline, "-m", "aifo"]
        peers["before"] = lambda t: aifo_round(env, sessions, f"{t}b", folder, before)
    results: dict[str, list[Took]] = {name: [] for name in peers}
    order = list(peers)
    for r in range(repeat):
        tag = f"bsw{os.getpid() % 10000}-{sessions}-{r}"
        for name in order[r % len(order) :] + order[: r % len(order)]:
            results[name].append(peers[name](tag))
    wall = {k: [t.wall for t in v] for k, v in results.items()}
    print(f"{sessions} sessions ({2 * sessions} containers), median of {repeat} rounds:")
    for name, took in results.items():
        per = 1000 / sessions
        print(
            f"  {name:13} {statistics.median(wall[name]):6.2f} s wall; CPU per session: client "
            f"{statistics.median(t.client for t in took) * per:4.0f} ms, nodes "
            f"{statistics.median(t.nodes for t in took) * per:4.0f} ms"
        )
    print("  aifo / floor: " + ratios(wall["aifo"], wall["floor"]) + "; goal <= 1.10)")
    print("  aifo / floor+verify: " + ratios(wall["aifo"], wall["floor+verify"]) + ")")
    print("  aifo / stack: " + ratios(wall["aifo"], wall["stack"]) + "; goal < 1)")
    if baseline:
        print("  before / floor: " + ratios(wall["before"], wall["floor"]) + ")")
        print("  aifo / before: " + ratios(wall["aifo"], wall["before"]) + ")")


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
    parser.add_argument(
        "--split", action="store_true",
        help="the nodes on the last CPU, this script and its children (the clients) on the "
        "others: as on a real cluster, where aifo runs on another machine than the nodes",
    )  # fmt: skip
    args = parser.parse_args()
    nodes_script = str(ROOT / "scripts/swarm-nodes")
    last = (os.cpu_count() or 1) - 1
    if args.split and last < 1:
        raise SystemExit("--split needs 2 CPUs at least")
    if args.swarm:
        args.name, args.keep = args.swarm, True
    else:
        split = ["--cpuset", str(last)] if args.split else []
        sh(nodes_script, "up", "--name", args.name, *split)
    try:
        sh(nodes_script, "load", "--name", args.name, IMAGE)
        env = swarm_env(args.name)
        api = Manager(env)
        nodes = api.nodes()
        global CPU
        CPU = Cpu(args.name)
        if args.split:
            nodes_on = {sh("docker", "inspect", "-f", "{{.HostConfig.CpusetCpus}}", n).strip()
                        for n in (f"{args.name}-n1", f"{args.name}-n2")}  # fmt: skip
            if nodes_on != {str(last)}:
                raise SystemExit(f"--split: the nodes must run on CPU {last} only (they run on "
                                 f"{nodes_on}): a swarm of its own, or `scripts/swarm-nodes up "
                                 f"--cpuset {last}`")  # fmt: skip
            os.sched_setaffinity(0, set(range(last)))  # the clients: this and its children
            print(f"split: the nodes on CPU {last}, the clients on CPU 0-{last - 1}")
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
