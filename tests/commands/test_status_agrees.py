"""`aifo status` judges drift as the planner does: over every planner case, a declared container
shows drift exactly when the plan replaces or updates it, a network exactly when the plan
replaces or refuses it (pure: the cases' hand-written snapshots, no Docker)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from aifo.errors import PlanError
from aifo.plan.planner import plan
from aifo.plan.status import status_rows
from tests.plan.test_cases import CASES, build_session, build_snapshot


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_status_drift_is_the_plans(path: Path) -> None:
    case = yaml.safe_load(path.read_text())
    session = build_session(case["session"])
    snap = build_snapshot(session.name, case.get("snapshot") or {}, session)
    rows = {(r["kind"], r["name"]): r for r in status_rows(snap, session)}
    try:
        ops = {a.id: a.op for a in plan(session, snap).actions}
    except PlanError as exc:
        refused = str(exc)
        for net in session.networks:
            row = rows.get(("network", net.docker_name))
            if row and row["state"] == "present":
                assert row["drift"] == (f"{net.id}: network" in refused), net.id
        return
    for c in session.containers:
        row = rows[("container", c.docker_name)]
        if row["state"] != "missing":
            assert row["drift"] == (ops[c.id] in ("replace", "update")), c.id
    for net in session.networks:
        row = rows[("network", net.docker_name)]
        if row["state"] == "present":
            assert row["drift"] is (ops[net.id] == "replace"), net.id


def test_same_network_under_another_hash_is_no_drift() -> None:
    path = next(p for p in CASES if p.stem == "network_same_definition_other_hash")
    case = yaml.safe_load(path.read_text())
    session = build_session(case["session"])
    rows = status_rows(build_snapshot(session.name, case["snapshot"], session), session)
    assert [r["drift"] for r in rows if r["kind"] == "network"] == [False]


def test_drift_rows_name_field_expected_found() -> None:
    path = next(p for p in CASES if p.stem == "drift_pids_limit_removed_replaces")
    case = yaml.safe_load(path.read_text())
    session = build_session(case["session"])
    rows = status_rows(build_snapshot(session.name, case["snapshot"], session), session)
    (row,) = [r for r in rows if r["kind"] == "container"]
    assert row["drift"] is True
    assert row["differences"] == [{"field": "pids_limit", "expected": 256, "found": None}]
