"""The objects a session's containers need, as journaled steps: an image pulled or built (each
build step reported as progress), a network or volume created with the discard that undoes it.

The scheduler runs them before any container is created; a replaced network is created again by
the same step (aifo.apply.netreplace).
"""

from __future__ import annotations

from typing import Any

from aifo import __version__
from aifo.apply.events import Emit, Event
from aifo.apply.ops import op
from aifo.apply.transaction import Step
from aifo.engine.api import BuildStep, Engine
from aifo.model import LABEL_BUILD, LABEL_SCOPE, LABEL_SESSION, LABEL_VERSION, Session, aifo_labels
from aifo.model.hashing import build_identity


def image_step(engine: Engine, session: Session, rid: str, emit: Emit) -> Step:
    image = next(i for i in session.images if i.id == rid)
    build = image.build
    labels = {LABEL_SESSION: session.name, LABEL_VERSION: __version__}
    if build is not None:  # what it was built from: a fixed name is rebuilt when that changes
        labels[LABEL_BUILD] = build_identity(build)

    def step(s: BuildStep) -> None:
        emit(
            Event(
                "action.progress",
                id=rid,
                op="build_image",
                message=f"step {s.number}/{s.total}: {s.instruction}",
                data={"step": s.number, "steps": s.total, "instruction": s.instruction},
            )
        )

    def fetch() -> None:  # images are kept on rollback: a cache, not session state
        if build is not None:
            engine.build_image(image.ref, build, labels=labels, on_step=step)
        else:
            engine.pull_image(image.ref)

    verb = "pull_image" if build is None else "build_image"
    return Step(verb, rid, {"ref": image.ref}, None, fetch)


def network_step(engine: Engine, session: Session, rid: str) -> Step:
    net = next(n for n in session.networks if n.id == rid)
    labels = aifo_labels(session.name, rid, net.config_hash, net.labels)

    def create() -> dict[str, Any]:
        nid = engine.create_network(
            net.docker_name,
            driver=net.driver,
            internal=net.internal,
            subnet=net.subnet,
            labels=labels,
        )
        return {"id": nid}

    return Step(
        "create_network",
        rid,
        {"name": net.docker_name},
        op("discard_network", name=net.docker_name),
        create,
    )


def volume_step(engine: Engine, session: Session, rid: str) -> Step:
    vol = next(v for v in session.volumes if v.id == rid)
    labels = aifo_labels(session.name, rid, vol.config_hash, vol.labels)
    if vol.shared:
        labels[LABEL_SCOPE] = "shared"

    def create() -> dict[str, Any]:
        engine.create_volume(vol.docker_name, labels=labels)
        if vol.seed is not None:  # the workspace on a node elsewhere (compile/workspace)
            engine.fill_volume(vol.docker_name, vol.seed, labels=labels)
        return {"created": True}

    return Step(
        "create_volume",
        rid,
        {"name": vol.docker_name},
        op("discard_volume", name=vol.docker_name),
        create,
    )
