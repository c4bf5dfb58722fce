"""Pure: a Container as a Swarm ServiceSpec, what a service cannot express, names Swarm takes,
and the digest that tells a change made outside aifo from aifo's own updates."""

from __future__ import annotations

import pytest

from aifo.engine.swarm import services as S
from aifo.model import Container as C
from aifo.model import EnvVar, Healthcheck, Mount, Port

LABELS = {"io.aifo.session": "s", "io.aifo.resource": "service/api", "io.aifo.config-hash": "h"}


def _spec(c: C, **kw: object) -> dict[str, object]:
    args: dict[str, object] = {
        "name": "aifo-s-api", "docker_name": "aifo-s-api", "labels": LABELS,
        "networks": ["aifo-s-back"], "volumes": {"data": "aifo-s-data"}, "node_id": "N1",
    }  # fmt: skip
    args.update(kw)
    return S.service_spec(c, **args)  # type: ignore[arg-type]


def test_a_container_becomes_one_pinned_replica_with_its_isolation() -> None:
    c = C(
        name="api", role="service", docker_name="aifo-s-api", image="busybox:latest",
        command=("sleep", "9"), env=(EnvVar("A", "1"), EnvVar("TOKEN", "x", secret=True)),
        mounts=(
            Mount("volume", "/data", "data"), Mount("bind", "/w", "/src", read_only=True),
            Mount("tmpfs", "/tmp", tmpfs_size="64m"),
        ),
        aliases=("api",), user="1000:1000", working_dir="/w", hostname="h", pids_limit=64,
        memory_bytes=2**28, cpus=0.5, cap_drop=("ALL",), cap_add=("chown",), read_only=True,
        init=True, tty=True, labels=(("team", "x"),),
        healthcheck=Healthcheck(("CMD", "true"), interval_s=1, timeout_s=1, retries=2),
    )  # fmt: skip
    spec = _spec(c, replicas=1)
    template = spec["TaskTemplate"]
    assert isinstance(template, dict)
    cs = template["ContainerSpec"]
    assert cs["Image"] == "busybox:latest" and cs["Args"] == ["sleep", "9"]
    assert cs["Env"] == ["A=1"]  # a secret never enters a body
    assert cs["Labels"] == {"team": "x", **LABELS}  # the task containers carry them too
    assert cs["Mounts"] == [
        {"Type": "volume", "Target": "/data", "Source": "aifo-s-data"},
        {"Type": "bind", "Target": "/w", "Source": "/src", "ReadOnly": True},
        {
            "Type": "volume",
            "Target": "/tmp",
            "Source": "aifo-s-api.tmp",
            "VolumeOptions": {
                "DriverConfig": {
                    "Name": "local",
                    "Options": {
                        "type": "tmpfs",
                        "device": "tmpfs",
                        "o": f"size={64 * 2**20},mode=1777,nosuid,nodev",
                    },
                },
                "Labels": {"io.aifo.route-volume-of": LABELS["io.aifo.session"]},
            },
        },
    ]  # every tmpfs a local tmpfs volume: a Swarm tmpfs mount is noexec (fmt: skip)
    assert (cs["User"], cs["Dir"], cs["Hostname"]) == ("1000:1000", "/w", "h")
    assert cs["CapabilityDrop"] == ["ALL"] and cs["CapabilityAdd"] == ["CAP_CHOWN"]
    assert cs["ReadOnly"] is True and cs["Init"] is True and cs["TTY"] is True
    assert cs["Healthcheck"]["Test"] == ["CMD-SHELL", "true"]
    assert template["Resources"] == {
        "Limits": {"MemoryBytes": 2**28, "NanoCPUs": 500_000_000, "Pids": 64}
    }
    assert template["RestartPolicy"]["Condition"] == "none"  # a failed task is not retried
    assert template["Placement"] == {"Constraints": ["node.id==N1"]}
    assert template["Networks"] == [{"Target": "aifo-s-back", "Aliases": ["api"]}]
    assert spec["EndpointSpec"] == {"Mode": "dnsrr"}  # no IPVS: a virtual IP would not answer
    assert spec["Mode"] == {"Replicated": {"Replicas": 1}}
    labels = spec["Labels"]
    assert isinstance(labels, dict) and labels[S.LABEL_NAME] == "aifo-s-api"
    assert S.node_of(spec) == "N1" and S.replicas(spec) == 1
    assert S.replicas(S.with_replicas(spec, 0)) == 0


def test_an_entrypoint_is_the_command_and_restart_policies_map() -> None:
    c = C(name="a", role="service", docker_name="d", image="i", entrypoint=("sh", "-c"),
          command=("true",), restart="always")  # fmt: skip
    cs = _spec(c)["TaskTemplate"]["ContainerSpec"]  # type: ignore[index]
    assert cs["Command"] == ["sh", "-c"] and cs["Args"] == ["true"]
    assert _spec(c)["TaskTemplate"]["RestartPolicy"]["Condition"] == "any"  # type: ignore[index]


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"privileged": True}, "privileged"),
        ({"ports": (Port(80, 8080),)}, "every address"),
        ({"security_opt": ("apparmor=unconfined",)}, "apparmor=unconfined"),
    ],
)
def test_what_a_service_cannot_express_is_refused(change: dict[str, object], why: str) -> None:
    c = C(name="a", role="service", docker_name="d", image="i", **change)  # type: ignore[arg-type]
    problem = S.unsupported(c)
    assert problem is not None and why in problem
    assert S.unsupported(C(name="a", role="service", docker_name="d", image="i")) is None


def test_swarm_names_are_dns_labels_and_a_replacement_gets_its_own() -> None:
    assert S.swarm_name("aifo-s-api", "abc123") == "aifo-s-api"
    temp = S.swarm_name("aifo-s-api.next", "abc123")
    assert temp == "aifo-s-api-next-abc123" and S.valid_name(temp)
    assert S.swarm_name("aifo-s-api.next", "def456") != temp  # the next replacement's
    long = S.swarm_name("aifo-" + "x" * 80, "abc123")
    assert S.valid_name(long) and len(long) <= 63
    assert S.valid_name(S.solo_name(long))


def test_the_digest_ignores_aifos_own_updates_and_sees_anyone_elses() -> None:
    c = C(
        name="a", role="service", docker_name="d", image="busybox:latest", cap_drop=("ALL",),
        env=(EnvVar("A", "1"), EnvVar("B", "2")),
        mounts=(Mount("tmpfs", "/t"), Mount("volume", "/data", "data")),
    )  # fmt: skip
    spec = _spec(c)
    assert not S.changed_outside(spec)
    # what Swarm adds when it stores a spec, what aifo itself changes, and the docker CLI's
    # reordering of env and mounts on any `service update`
    stored = S.forced(S.renamed(S.with_replicas(spec, 1), "aifo-s-other"))
    cs = stored["TaskTemplate"]["ContainerSpec"]
    cs.update({"Isolation": "default", "DNSConfig": {}, "Privileges": None})
    cs["Image"] += "@sha256:" + "0" * 64
    cs["Env"] = list(reversed(cs["Env"]))
    cs["Mounts"] = list(reversed(cs["Mounts"]))
    stored["TaskTemplate"]["Networks"] = [{"Target": "n0tw0rk1d"}]
    assert not S.changed_outside(stored)
    outside = S.with_replicas(spec, 1)
    outside["TaskTemplate"]["ContainerSpec"]["Env"] = ["X=1"]
    assert S.changed_outside(outside)
    capped = S.with_replicas(spec, 1)
    capped["TaskTemplate"]["ContainerSpec"]["CapabilityAdd"] = ["CAP_NET_ADMIN"]
    assert S.changed_outside(capped)
