"""Judging one object against the spec: shared by the planner and `aifo status`, so both say
the same (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aifo.model import BUILD_TAG_LENGTH, LABEL_BUILD, Container, Image, Network
from aifo.model.hashing import build_identity
from aifo.model.observed import ObservedContainer, ObservedImage, ObservedNetwork
from aifo.plan import drift as D
from aifo.plan.compare import Difference

CONFIG_HASH = "config changed"  # the reason when no field-level record says which


def judge_container(
    c: Container,
    observed: ObservedContainer,
    images: Mapping[str, ObservedImage],
    networks: Sequence[str],
    volumes: Mapping[str, str],
    replaced: Mapping[str, str] | None = None,
) -> tuple[tuple[str, ...], tuple[Difference, ...]]:
    """(why it must be recreated: `config changed`, `image`, `NETWORK replaced`; else the facts
    that drifted). `replaced`: Docker name -> id of the networks being replaced (a container on
    one, or declaring one, is recreated with it)."""
    stale: list[str] = []
    if observed.config_hash != c.config_hash:
        stale.append(CONFIG_HASH)
    image = images.get(c.image)
    if image and observed.image_id and image.id and observed.image_id != image.id:
        stale.append("image")
    gone = replaced or {}
    on = set(networks) | set(observed.networks)
    stale += [f"{gone[n]} replaced" for n in sorted(on & gone.keys())]
    if stale:  # replaced anyway: its facts are expected to differ
        return tuple(stale), ()
    return (), D.container_differences(c, observed, networks, volumes)


def judge_image(img: Image, observed: ObservedImage) -> str | None:
    """Why a present image must be built again, or None. A built image carries the identity of
    its inputs (LABEL_BUILD), so a fixed `image.name` is rebuilt when they change; an image
    without the label is current only when its tag is that identity (content-addressed)."""
    if img.build is None:
        return None
    identity = build_identity(img.build)
    label = observed.labels.get(LABEL_BUILD)
    if label == identity:
        return None
    if label is None:
        if img.ref.endswith(":" + identity[:BUILD_TAG_LENGTH]):
            return None
        return "built from unknown inputs"
    return "build inputs changed"


def judge_network(net: Network, observed: ObservedNetwork) -> tuple[Difference, ...]:
    """What differs in a network that can't change in place (labels: the user's only; the hash
    label of another aifo version is no difference)."""
    return D.network_differences(net, observed, dict(net.labels))
