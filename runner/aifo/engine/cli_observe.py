"""Listing and observing a session's objects over the `docker` CLI (part of `DockerEngine`)."""

from __future__ import annotations

from collections.abc import Iterable

from aifo.engine import parse
from aifo.engine.api import Labelled, SessionSummary, Want
from aifo.engine.cli_core import CliCore, check_inspect
from aifo.engine.run import Result
from aifo.engine.translate import translate
from aifo.model import LABEL_DEPENDS, LABEL_RESOURCE, LABEL_SESSION, LOCK_RESOURCE
from aifo.model.observed import Snapshot

_SESSION, _RESOURCE, _DEPENDS = (
    f'{{{{.Label "{key}"}}}}' for key in (LABEL_SESSION, LABEL_RESOURCE, LABEL_DEPENDS)
)
_PS = [
    "ps", "-a", "--no-trunc", "--format",
    f"{{{{.ID}}}}\t{{{{.Names}}}}\t{_SESSION}\t{_RESOURCE}\t{_DEPENDS}",
]  # fmt: skip
_NET_LS = ["network", "ls", "--no-trunc", "--format", f"{{{{.ID}}}}\t{{{{.Name}}}}\t{_SESSION}"]
_VOL_LS = ["volume", "ls", "--format", f"{{{{.Name}}}}\t{_SESSION}"]


def _depends(rows: Iterable[parse.Listed]) -> dict[str, tuple[str, ...]]:
    """Container name -> names of the containers its `io.aifo.depends-on` label names (by
    resource id); dependencies that are gone or not this session's are left out."""
    listed = list(rows)
    by_rid = {r.extra[0]: r.name for r in listed if r.extra and r.extra[0]}
    out: dict[str, tuple[str, ...]] = {}
    for r in listed:
        needs = r.extra[1].split(",") if len(r.extra) > 1 and r.extra[1] else []
        out[r.name] = tuple(by_rid[rid] for rid in needs if rid in by_rid)
    return out


class CliObserve(CliCore):
    """Sessions, the labelled objects of one, and the batched observe."""

    def sessions(self) -> list[SessionSummary]:
        """Every session with objects on this engine, by the `io.aifo.session` label."""
        label = ["--filter", f"label={LABEL_SESSION}"]
        session = _SESSION
        results = self.runner.run_many(
            [
                ["ps", "-a", *label, "--format", f"{session}\t{{{{.State}}}}\t{_RESOURCE}"],
                ["network", "ls", *label, "--format", session],
                ["volume", "ls", *label, "--format", session],
            ],
            op="list sessions",
        )
        for result in results:
            if not result.ok:
                raise translate("list", "sessions", result.returncode, result.stderr)
        counts: dict[str, dict[str, int]] = {}

        def bump(name: str, key: str) -> None:
            if name:
                row = counts.setdefault(name, {})
                row[key] = row.get(key, 0) + 1

        for line in results[0].stdout.splitlines():
            name, state, resource = (line.split("\t") + ["", ""])[:3]
            if resource.strip() == LOCK_RESOURCE:
                continue  # the session lock is not an object of the session
            bump(name, "containers")
            if state.strip() == "running":
                bump(name, "running")
        for key, result in (("networks", results[1]), ("volumes", results[2])):
            for line in result.stdout.splitlines():
                bump(line.strip(), key)
        return [SessionSummary(name, **counts[name]) for name in sorted(counts)]

    def labelled(self, session: str) -> Labelled:
        rows, _ = self._list_all(session)
        rows[0] = parse.without_locks(rows[0])
        mine = [{r.name: r.id for r in listed if r.session == session} for listed in rows]
        return Labelled(
            mine[0], mine[1], mine[2], _depends(r for r in rows[0] if r.session == session)
        )

    def _list_all(
        self, session: str, *extra: list[str]
    ) -> tuple[list[list[parse.Listed]], list[Result]]:
        """Containers, networks and volumes listed in parallel, with `extra` calls (their
        results returned unchecked)."""
        results = self.runner.run_many([_PS, _NET_LS, _VOL_LS, *extra], op="observe")
        for result in results[:3]:
            if not result.ok:
                raise translate("observe session", session, result.returncode, result.stderr)
        return [parse.listing(r.stdout) for r in results[:3]], results[3:]

    def observe(self, session: str, want: Want) -> Snapshot:
        """Two rounds of parallel CLI calls: list all three kinds (+ inspect images), then one
        inspect per kind for the ids that are ours or carry a wanted name. ≤ 7 calls in all."""
        images = list(dict.fromkeys(want.images))
        extra = [["image", "inspect", "--", *images]] if images else []
        rows, image_results = self._list_all(session, *extra)

        c_names = set(want.containers)
        n_names = set(want.networks) | set(want.external_networks)
        v_names = set(want.volumes) | set(want.external_volumes)

        def pick(listed: list[parse.Listed], names: set[str]) -> list[str]:
            return [r.id for r in listed if r.session == session or r.name in names]

        rows[0] = parse.without_locks(rows[0])

        ids = [pick(rows[0], c_names), pick(rows[1], n_names), pick(rows[2], v_names)]
        kinds = (["container", "inspect"], ["network", "inspect"], ["volume", "inspect"])
        second = [[*kind, *refs] for kind, refs in zip(kinds, ids, strict=True) if refs]
        inspected = iter(self.runner.run_many(second, op="observe") if second else [])
        data: list[list[parse.Json]] = []
        for refs in ids:
            if not refs:
                data.append([])
                continue
            result = next(inspected)
            check_inspect(result, f"observe session {session}")
            data.append(parse.inspect_array(result.stdout))

        snap = parse.snapshot(  # the lock left the listing above (without_locks)
            session,
            want,
            map(parse.container, data[0]),
            map(parse.network, data[1]),
            map(parse.volume, data[2]),
        )
        if images:
            result = image_results[0]
            check_inspect(result, "inspect images")
            found = parse.inspect_array(result.stdout)
            snap.images.update(parse.match_images(images, found, parse.missing_refs(result.stderr)))
        return snap
