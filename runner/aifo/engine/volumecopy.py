"""A host folder into a volume, and a volume back into a host folder, through the engine alone.

Where a host bind cannot reach (a Swarm node that is not this machine), the workspace lives in
a volume on the node (docs/swarm.md). Both directions go through a never-started helper
container that mounts the volume at `/v`: `PUT /containers/{id}/archive` (`docker cp - ID:/`)
unpacks a tar whose top entry is `v` (so the volume's root gets the folder's owner and mode;
a `.` entry would be ignored), `GET /containers/{id}/archive?path=/v` (`docker cp ID:/v -`)
brings it back. Nothing runs in the helper; it carries the session's labels and is removed
at once. What comes back was written by an untrusted agent: it is unpacked with tarfile's
`data` filter (no absolute paths, nothing outside the destination, no devices, links kept
inside), bounded in size, into a staging folder that is renamed into place only when whole.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from aifo.errors import EngineError
from aifo.model import LABEL_VOLUME_HELPER

if TYPE_CHECKING:
    from aifo.engine.run import Runner
    from aifo.engine.wire import Wire

HELPER_IMAGE = "aifo-volume-helper:1"  # an empty image (imported from an empty tar): never run
MOUNT = "v"  # the volume's place in the helper, and the tar's top entry
LIMIT_BYTES = 16 << 30  # a workspace brought back: at most this much (the agent fills it)
LOCAL_SOCKET = "/var/run/docker.sock"  # this machine's own engine, for `local_id`
# Unpacked files belong to whoever runs aifo, as tarfile's `data` filter makes them.
_NO_OWNER: dict[str, Any] = {"uid": None, "gid": None, "uname": None, "gname": None}


def pack(source: Path, out: IO[bytes]) -> None:
    """`source`'s tree as a tar under the top entry `v`: owners and modes kept, links as links,
    nothing but folders, regular files and symbolic links (a socket or fifo is left out)."""

    def only_plain(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        if not (info.isdir() or info.isreg() or info.issym() or info.islnk()):
            return None
        info.uname = info.gname = ""  # numeric owners: the node has no such names
        return info

    if not source.is_dir() or source.is_symlink():
        raise EngineError(f"copy {source} into a volume: not a folder")
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(str(source), arcname=MOUNT, recursive=True, filter=only_plain)


def unpack(archive: Path, dest: Path, *, limit: int = LIMIT_BYTES) -> None:
    """The tar at `archive` (top entry `v`) as the new folder `dest`, safely: see the module's
    docstring. `dest` must not exist; on any problem nothing is left at `dest`."""
    if dest.exists() or dest.is_symlink():
        raise EngineError(f"bring a volume back into {dest}: it exists already")
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.incoming-", dir=dest.parent))
    try:
        with tarfile.open(archive, mode="r:") as tar:
            members = tar.getmembers()
            total = sum(m.size for m in members if m.isreg())
            if total > limit:
                raise EngineError(
                    f"bring a volume back into {dest}: {total} bytes, more than {limit}",
                    hint="remove large files inside (build output, caches) and try again",
                )
            names = [os.path.normpath(m.name) for m in members]
            wrong = [n for n in names if n != MOUNT and not n.startswith(f"{MOUNT}/")]
            if wrong:
                raise EngineError(f"bring a volume back: unexpected entry {wrong[0]!r}")
            try:
                tar.extractall(staging, members=members, filter=_untrusted)
            except (tarfile.TarError, OSError) as exc:
                raise EngineError(f"bring a volume back into {dest}: {exc}") from exc
        inner = staging / MOUNT
        if not inner.is_dir() or inner.is_symlink():
            raise EngineError(f"bring a volume back into {dest}: the volume's root is missing")
        os.chmod(inner, 0o700)
        os.rename(inner, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _untrusted(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
    """tarfile's `data` filter, but a symbolic link keeps its target whatever it is (a
    repository may hold `ln -s /usr/bin/python3 py`): links are stored as links, never
    followed; every member's own path is still checked through the links made before it."""
    if member.issym():
        checked = tarfile.tar_filter(member, dest)
        return checked.replace(**_NO_OWNER, deep=False)
    return tarfile.data_filter(member, dest)


def _empty_tar() -> bytes:
    import io

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w"):
        pass
    return buf.getvalue()


def _helper_name() -> str:
    return f"aifo-volume-helper-{secrets.token_hex(6)}"


class CliVolumeCopy:
    """The contract's volume copies over the `docker` CLI (`DockerEngine`)."""

    runner: Runner

    def binds_reach(self, session: str) -> bool:
        """Docker and Podman run the session on the engine aifo talks to: a bind names that
        engine's folders, as it always has (a remote DOCKER_HOST is the user's choice)."""
        return True

    def _docker(self, args: list[str], *, stdin: bytes | IO[bytes] | None = None,
                stdout: IO[bytes] | None = None, what: str) -> None:  # fmt: skip
        from aifo.engine.translate import translate

        self.runner._count()
        data = stdin if isinstance(stdin, bytes) else None
        source: IO[bytes] | int | None = None
        if data is None:
            source = subprocess.DEVNULL if stdin is None or isinstance(stdin, bytes) else stdin
        try:
            proc = subprocess.run(
                [self.runner.docker, *args],
                input=data,
                stdin=source,
                stdout=stdout if stdout is not None else subprocess.PIPE,
                stderr=subprocess.PIPE,
                timeout=self.runner.timeout_s,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise EngineError(f"{what}: {exc}") from exc
        if proc.returncode != 0:
            raise translate(what, "", proc.returncode, proc.stderr.decode(errors="replace"))

    def _helper(self, volume: str, labels: Mapping[str, str]) -> str:
        # a mount would create a missing volume (unlabelled, empty): it must exist already
        self._docker(["volume", "inspect", "--", volume], what=f"find volume {volume}")
        name = _helper_name()
        argv = ["create", "--name", name, "--network", "none"]
        for key, value in labels.items():
            argv += ["--label", f"{key}={value}"]
        argv += ["--mount", f"type=volume,source={volume},target=/{MOUNT}"]
        argv += ["--", HELPER_IMAGE, "/none"]
        from aifo.errors import ImageMissing

        try:
            self._docker(argv, what=f"create a helper for volume {volume}")
        except ImageMissing:
            self._docker(["import", "-", HELPER_IMAGE], stdin=_empty_tar(), what="import helper")
            self._docker(argv, what=f"create a helper for volume {volume}")
        return name

    def fill_volume(self, volume: str, source: str, *, labels: Mapping[str, str]) -> None:
        """Copy host folder `source` into the volume's root (owners, modes, links kept),
        through a never-started helper container carrying `labels`, removed after."""
        helper = self._helper(volume, labels)
        try:
            with tempfile.TemporaryFile() as tar:
                pack(Path(source), tar)
                tar.seek(0)
                self._docker(["cp", "-", f"{helper}:/"], stdin=tar, what=f"fill volume {volume}")
        finally:
            self._docker(["rm", "-f", helper], what=f"remove helper {helper}")

    def read_volume(self, volume: str, dest: str, *, labels: Mapping[str, str]) -> None:
        """The volume's content as the new host folder `dest` (untrusted: unpacked safely,
        bounded), through a never-started helper container carrying `labels`."""
        helper = self._helper(volume, labels)
        try:
            with tempfile.NamedTemporaryFile(dir=Path(dest).parent, prefix=".aifo-tar-") as tar:
                self._docker(["cp", f"{helper}:/{MOUNT}", "-"], stdout=tar, what=f"read {volume}")
                tar.flush()
                unpack(Path(tar.name), Path(dest))
        finally:
            self._docker(["rm", "-f", helper], what=f"remove helper {helper}")


class _Raw:
    """One request with a streamed body on the engine's unix socket (the archive endpoints
    carry tars, which `Wire` keeps in memory); the response body goes to a file."""

    def __init__(self, path: str, prefix: str, timeout_s: float) -> None:
        self.path, self.prefix, self.timeout_s = path, prefix, timeout_s

    def send(self, method: str, target: str, body: IO[bytes] | None, out: IO[bytes] | None,
             *, limit: int = LIMIT_BYTES) -> tuple[int, bytes]:  # fmt: skip
        """(status, the body when it is an error or `out` is None)."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout_s)
        try:
            sock.connect(self.path)
            size = os.fstat(body.fileno()).st_size - body.tell() if body is not None else 0
            head = (
                f"{method} {self.prefix}{target} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n"
                f"Content-Type: application/x-tar\r\nContent-Length: {size}\r\n\r\n"
            )
            sock.sendall(head.encode())
            if body is not None:
                sock.sendfile(body)
            reader = sock.makefile("rb")
            status = int(reader.readline().split(b" ", 2)[1])
            headers: dict[bytes, bytes] = {}
            while (line := reader.readline()) not in (b"\r\n", b"\n", b""):
                key, _, value = line.partition(b":")
                headers[key.strip().lower()] = value.strip()
            sink = out if out is not None and 200 <= status < 300 else None
            return status, _body(reader, headers, sink, limit)
        except OSError as exc:
            raise EngineError(f"{method} {target}: {exc.strerror or exc}") from exc
        finally:
            sock.close()


def _body(reader: IO[bytes], headers: Mapping[bytes, bytes], sink: IO[bytes] | None,
          limit: int) -> bytes:  # fmt: skip
    """Read a Content-Length, chunked or read-to-close body into `sink` (else return it)."""
    kept = bytearray()
    seen = 0

    def take(data: bytes) -> None:
        nonlocal seen
        seen += len(data)
        if seen > limit + (1 << 20):
            raise EngineError(f"the engine sent more than {limit} bytes")
        if sink is not None:
            sink.write(data)
        else:
            kept.extend(data)

    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        while True:
            size = int(reader.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                break
            while size:
                data = reader.read(min(size, 1 << 20))
                if not data:
                    raise EngineError("the engine's answer ended early")
                take(data)
                size -= len(data)
            reader.readline()
    elif b"content-length" in headers:
        left = int(headers[b"content-length"])
        while left:
            data = reader.read(min(left, 1 << 20))
            if not data:
                raise EngineError("the engine's answer ended early")
            take(data)
            left -= len(data)
    else:
        while data := reader.read(1 << 20):
            take(data)
    return bytes(kept)


def _reason(body: bytes) -> str:
    """The daemon's reason in an error body (`{"message": …}`, or an import stream's last
    `{"error": …}`), as the CLI prints it; else the body's last 300 characters."""
    import json

    for line in reversed(body.strip().splitlines()):
        try:
            data = json.loads(line)
        except ValueError:
            break
        if isinstance(data, dict) and (data.get("message") or data.get("error")):
            return str(data.get("message") or data.get("error"))
    return body.decode(errors="replace").strip()[-300:]


class ApiVolumeCopy:
    """The contract's volume copies over the Engine API socket (`SocketEngine`, and the Swarm
    adapter's per-node engines)."""

    wire: Wire

    def engine_id(self) -> str:
        """The daemon's own ID (`GET /info`), stable for its life: which machine this is."""
        info = self.wire.call("GET", "/info", op="read", obj="engine info")
        return str(info.get("ID") or "") if isinstance(info, dict) else ""

    def _raw(self) -> _Raw:
        return _Raw(self.wire.path, self.wire.prefix, self.wire.timeout_s)

    def _api_helper(self, volume: str, labels: Mapping[str, str]) -> str:
        from aifo.engine.wire import ref
        from aifo.errors import ImageMissing

        # a mount would create a missing volume (unlabelled, empty): it must exist already
        self.wire.call("GET", f"/volumes/{ref(volume)}", op="find volume", obj=volume)

        body = {
            "Image": HELPER_IMAGE,
            "Cmd": ["/none"],
            "Labels": {**labels, LABEL_VOLUME_HELPER: volume},
            "NetworkDisabled": True,
            "HostConfig": {
                "NetworkMode": "none",
                "Mounts": [{"Type": "volume", "Source": volume, "Target": f"/{MOUNT}"}],
            },
        }

        def create() -> Any:
            return self.wire.call(
                "POST", "/containers/create", op="create a helper for volume", obj=volume,
                body=body,
            )  # fmt: skip

        try:
            created = create()
        except ImageMissing:
            self._import_helper()
            created = create()
        return str(created["Id"])

    def _import_helper(self) -> None:
        with tempfile.TemporaryFile() as empty:
            empty.write(_empty_tar())
            empty.seek(0)
            target = "/images/create?fromSrc=-&repo=aifo-volume-helper&tag=1"
            status, text = self._raw().send("POST", target, empty, None)
        if not 200 <= status < 300 or b'"error"' in text:
            raise EngineError(f"import the helper image {HELPER_IMAGE}: {_reason(text)}")

    def _drop(self, helper: str) -> None:
        self.wire.call(
            "DELETE", f"/containers/{helper}", op="remove helper", obj=helper, query={"force": 1}
        )

    def drop_helpers(self, volume: str) -> int:
        """Remove the helpers of `volume` a failed `_drop` left (never started, labelled with
        the volume they mount, nothing else's); how many there were. The volume cannot be
        removed while one exists ("volume is in use")."""
        import json

        filters = json.dumps({"label": [f"{LABEL_VOLUME_HELPER}={volume}"]})
        found = self.wire.call("GET", "/containers/json", op="list", obj=f"helpers of {volume}",
                               query={"all": 1, "filters": filters})  # fmt: skip
        ids = [str(c.get("Id", "")) for c in found or [] if isinstance(c, dict)]
        for helper in ids:
            self._drop(helper)
        return len(ids)

    def fill_volume(self, volume: str, source: str, *, labels: Mapping[str, str]) -> None:
        """Copy host folder `source` into the volume's root (owners, modes, links kept),
        through a never-started helper container carrying `labels`, removed after."""
        helper = self._api_helper(volume, labels)
        try:
            with tempfile.TemporaryFile() as tar:
                pack(Path(source), tar)
                tar.seek(0)
                status, text = self._raw().send(
                    "PUT", f"/containers/{helper}/archive?path=/", tar, None
                )
            if not 200 <= status < 300:
                from aifo.engine.translate import translate

                raise translate("fill volume", volume, status, _reason(text))
        finally:
            self._drop(helper)

    def read_volume(self, volume: str, dest: str, *, labels: Mapping[str, str]) -> None:
        """The volume's content as the new host folder `dest` (untrusted: unpacked safely,
        bounded), through a never-started helper container carrying `labels`."""
        helper = self._api_helper(volume, labels)
        try:
            with tempfile.NamedTemporaryFile(dir=Path(dest).parent, prefix=".aifo-tar-") as tar:
                target = f"/containers/{helper}/archive?path=/{MOUNT}"
                status, text = self._raw().send("GET", target, None, tar)
                if not 200 <= status < 300:
                    from aifo.engine.translate import translate

                    raise translate("read volume", volume, status, _reason(text))
                tar.flush()
                unpack(Path(tar.name), Path(dest))
        finally:
            self._drop(helper)


def local_id(local_socket: str = LOCAL_SOCKET) -> str:
    """The ID of this machine's own engine (the one on its default socket): only a daemon with
    this ID sees host paths as the same folders. "" when there is none or it does not answer
    (fail closed: the workspace is then copied, never bound)."""
    from aifo.engine.wire import Wire

    if not os.path.exists(local_socket):
        return ""
    try:
        info = Wire(local_socket, timeout_s=10).call("GET", "/info", op="read", obj="engine info")
    except EngineError:
        return ""
    return str(info.get("ID") or "") if isinstance(info, dict) else ""
