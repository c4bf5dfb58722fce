"""What a container waits for before it starts (pure: aifo.apply.readiness)."""

from __future__ import annotations

from aifo.apply.readiness import Wait, waits_for_dependencies
from aifo.model import Container, Dependency


def _c(name: str, *deps: Dependency, timeout: float = 60.0) -> Container:
    return Container(
        name=name, role="service", docker_name=f"aifo-s-{name}", image="busybox",
        depends_on=deps, readiness_timeout_s=timeout,
    )  # fmt: skip


def test_each_dependency_once_with_its_strictest_condition_and_its_own_timeout() -> None:
    db, cache = _c("db", timeout=5.0), _c("cache", timeout=7.0)
    app = _c(
        "app",
        Dependency("service/db", "healthy"),
        Dependency("service/db", "started"),  # named twice: healthy still wins
        Dependency("service/cache", "started"),
    )
    resources = {"service/db": db, "service/cache": cache}
    waits = waits_for_dependencies(app, resources, lambda rid: f"id-{rid.split('/')[1]}")
    assert waits == [
        Wait("service/db", "id-db", "healthy", 5.0),
        Wait("service/cache", "id-cache", "started", 7.0),
    ]
    assert waits_for_dependencies(db, resources, str) == []  # nothing to wait for
