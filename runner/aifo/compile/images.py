"""Compile a container's `image:` (a reference or a build) into an `Image`, tagged by content."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aifo.compile.core import CompilerCore, Path_, hashed
from aifo.egress.sidecar import IMAGE_REPO as EGRESS_IMAGE_REPO
from aifo.model import BUILD_TAG_LENGTH, Build, Image
from aifo.model.hashing import build_identity, image_hash
from aifo.values import scalars


class ImageCompiler(CompilerCore):
    """Images, deduplicated by ref (`self.images`)."""

    def proxy_image(self, context: str) -> str:
        """The egress proxy's image: tagged by what the build would produce, not by session."""
        build = Build(context=context, context_hash=self.ctx.build_hash(context, None))
        return f"{EGRESS_IMAGE_REPO}:{build_identity(build)[:BUILD_TAG_LENGTH]}"

    def image(self, path: Path_, name: str, cfg: Mapping[str, Any]) -> Image | None:
        spec = cfg.get("image")
        pull = cfg.get("pull", "missing")
        if spec is None:
            self.fail((*path, "image"), "no image: set `image:` (a reference or a build)")
            return None
        if isinstance(spec, str):
            ref = spec
            if "{version}" in ref:
                version = cfg.get("version")
                if version is None:
                    self.fail((*path, "image"), "the image needs a `version:` for {version}")
                    return None
                ref = ref.replace("{version}", str(version))
            image = Image(ref=ref, pull=pull)
        else:
            b = spec["build"]
            try:
                chash = self.ctx.build_hash(b["context"], b.get("dockerfile"))
            except OSError as exc:  # e.g. an unreadable file: `docker build` would fail too
                self.fail((*path, "image", "build", "context"), f"cannot read the context: {exc}")
                return None
            bundle = self.ctx.ca_bundle() if b.get("trust_host_cas") else None
            if b.get("trust_host_cas") and bundle is None:
                self.fail(
                    (*path, "image", "build", "trust_host_cas"),
                    "this host has no CA bundle to trust (set SSL_CERT_FILE to one)",
                )
                return None
            build = Build(
                context=str(b["context"]),
                dockerfile=b.get("dockerfile"),
                args=scalars.pairs(b.get("args")),
                target=b.get("target"),
                context_hash=chash,
                ca_bundle=bundle[0] if bundle else None,
                ca_bundle_hash=bundle[1] if bundle else "",
            )
            # The tag covers files, Dockerfile, args and target: the planner reuses a present
            # tag as is, so a changed build arg must yield a new tag (and the old one stays for
            # rollback).
            tag = build_identity(build)[:BUILD_TAG_LENGTH]
            ref = spec.get("name") or f"{self.docker(name)}:{tag}"
            image = Image(ref=ref, build=build, pull=pull)
        image = hashed(image, image_hash(image))
        known = self.images.get(image.ref)
        if known is not None and known != image:
            self.fail((*path, "image"), f"image {image.ref} is declared twice, differently")
        self.images[image.ref] = image
        return image
