"""Secret values: a per-session key, keyed digests for hashing, and reading values at apply time.

A secret's value never leaves this module except to the engine's exec environment. Hashes and
labels see only `hmac-sha256:<hex>` under a random per-session key kept in the state directory
(0600), so a label neither reveals a secret nor lets anyone confirm a guess without that key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable, Mapping

from aifo.errors import SecretMissing, StateError
from aifo.host.files import FROM_FILE_CAP, UnreadableFile, read_bounded
from aifo.model import Container, EnvVar
from aifo.state.private import Unsafe, read_bytes

SecretReader = Callable[[EnvVar], "str | None"]  # read_secret, or a test's stand-in

UNSET = "unset"  # digest of an optional secret whose source is absent
# Digest of any secret before its session has a key (commands that write no state): stable from
# run to run, reveals nothing, and matches nothing applied (what was applied had a key).
KEYLESS = "keyless"
NO_KEY = b""
KEY_BYTES = 32


def session_key(session: str, *, create: bool = True) -> bytes:
    """The session's digest key, created (0600) on first use; safe against concurrent creators.

    `create=False` (commands that write no state): a session without a key gets NO_KEY, whose
    digests are all KEYLESS, so they are stable and match nothing applied."""
    from aifo.state.folder import session_dir

    folder = session_dir(session, create=create)
    path = folder / "secret.key"
    try:
        key = read_bytes(path, 4096)  # a wrong size is reported below
        if key is None and create:
            # Write a complete key under a private, unpredictable name (O_EXCL), then link it
            # into place: a reader never sees a half-written key, and when two processes race,
            # the first link wins for both.
            tmp = folder / f".secret.key.{os.urandom(8).hex()}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            try:
                os.write(fd, os.urandom(KEY_BYTES))
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink(missing_ok=True)
            key = read_bytes(path, 4096)  # a wrong size is reported below
    except Unsafe as exc:
        raise StateError(f"refusing the session key: {exc.message}", hint=exc.hint) from None
    except OSError as exc:
        raise StateError(f"cannot use the session key {path}: {exc}") from exc
    if key is None:
        return NO_KEY
    if len(key) != KEY_BYTES:
        raise StateError(
            f"{path} is not a {KEY_BYTES}-byte key",
            hint="delete it; the next apply recreates the containers that use secrets",
        )
    return key


def digest(key: bytes, name: str, value: str | None) -> str:
    """`hmac-sha256:<hex>` of the value under the session key (`unset` when there is none)."""
    if value is None:
        return UNSET
    if key == NO_KEY:
        return KEYLESS
    mac = hmac.new(key, f"{name}\0{value}".encode(), hashlib.sha256)
    return f"hmac-sha256:{mac.hexdigest()}"


def lookup(
    *,
    value: str | None = None,
    from_host: str | None = None,
    from_file: str | None = None,
    environ: Mapping[str, str] | None = None,
    default: str | None = None,
) -> str | None:
    """The secret's current value, or None when its source is absent."""
    if value is not None:
        return value
    if from_host is not None:
        return (os.environ if environ is None else environ).get(from_host, default)
    if from_file is not None:
        try:
            return read_from_file(from_file)
        except (OSError, UnreadableFile, UnicodeDecodeError):
            return None
    return None


def read_from_file(path: str) -> str:
    """A `from_file` secret: a regular file under the cap, read without blocking (never a FIFO,
    a device or a folder), its trailing newline dropped."""
    data = read_bounded(path, FROM_FILE_CAP)
    return data.decode("utf-8").rstrip("\r\n")


def file_problem(path: str) -> str:
    """Why a `from_file` secret cannot be read (never its content)."""
    try:
        read_from_file(path)
    except FileNotFoundError:
        return f"file {path} does not exist"
    except UnreadableFile as exc:
        return f"file {path} is refused: {exc}"
    except UnicodeDecodeError:
        return f"file {path} is not UTF-8 text"
    except OSError as exc:
        return f"file {path} cannot be read: {(exc.strerror or str(exc)).lower()}"
    return f"file {path} cannot be read"


def current_value(var: EnvVar, environ: Mapping[str, str] | None = None) -> str | None:
    """The value a secret has now, or None; never raises (compile digests with this)."""
    return lookup(
        value=var.value,
        from_host=var.from_host,
        from_file=var.from_file,
        environ=environ,
        default=var.default,
    )


def read_secret(
    var: EnvVar, environ: Mapping[str, str] | None = None, *, required: bool | None = None
) -> str | None:
    """Fetch a secret's value at apply/exec time: None for an absent optional one; a missing
    required one raises SecretMissing, whose message names the source and never a value."""
    found = current_value(var, environ)
    if found is None and (var.required if required is None else required):
        if var.from_host:
            source = f"host variable ${var.from_host} is not set"
            hint = f"export {var.from_host}=..., or mark it `required: false`"
        else:
            source = file_problem(var.from_file or "")
            hint = "create the file (a regular file of at most 128 KiB), or remove the variable"
        raise SecretMissing(f"secret {var.key} has no value: {source}", hint=hint)
    return found


def secret_env(container: Container, read_secret: SecretReader) -> dict[str, str]:
    """The container's secrets as exec-time env (hooks, exec); unset optional ones left out."""
    out: dict[str, str] = {}
    for var in container.secrets:
        value = read_secret(var)
        if value is not None:
            out[var.key] = value
    return out
