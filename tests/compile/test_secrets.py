"""Secrets: the per-session key, keyed digests, and reading values at apply time without leaks."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from aifo.errors import SecretMissing, StateError
from aifo.model import EnvVar
from aifo.state.secrets import digest, read_secret, session_key

KEY = b"k" * 32
VALUE = "hunter2-very-secret"


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AIFO_STATE_DIR", str(tmp_path))
    return tmp_path


def test_session_key_is_created_once_private_and_random(state: Path) -> None:
    key = session_key("demo")
    path = state / "sessions" / "demo" / "secret.key"
    assert path.read_bytes() == key and len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert session_key("demo") == key  # stable: hashes don't churn between runs
    assert session_key("other") != key  # per session
    assert [p.name for p in path.parent.iterdir()] == ["secret.key"]  # no temp file left


def test_a_damaged_key_is_a_state_error_with_a_hint(state: Path) -> None:
    session_key("demo")
    (state / "sessions" / "demo" / "secret.key").write_bytes(b"short")
    with pytest.raises(StateError, match="hint: delete it"):
        session_key("demo")


def test_digest_is_keyed_and_reveals_nothing() -> None:
    d = digest(KEY, "TOKEN", VALUE)
    assert d.startswith("hmac-sha256:") and len(d) == len("hmac-sha256:") + 64
    assert VALUE not in d
    assert digest(KEY, "TOKEN", VALUE) == d  # deterministic under one key
    assert digest(b"x" * 32, "TOKEN", VALUE) != d  # a guess can't be confirmed without the key
    assert digest(KEY, "OTHER", VALUE) != d  # bound to the variable name
    assert digest(KEY, "TOKEN", VALUE + "!") != d
    assert digest(KEY, "TOKEN", None) == "unset"


@pytest.mark.parametrize(
    ("var", "environ", "expected"),
    [
        (EnvVar("T", secret=True, from_host="T"), {"T": VALUE}, VALUE),
        (EnvVar("T", secret=True, from_host="T", required=False), {}, None),
        (EnvVar("T", secret=True, from_host="T", default="fallback"), {}, "fallback"),
        (EnvVar("T", secret=True, from_host="T", default="fallback"), {"T": ""}, ""),
        (EnvVar("T", value=VALUE, secret=True), {}, VALUE),
    ],
)
def test_read_secret(var: EnvVar, environ: dict[str, str], expected: str | None) -> None:
    assert read_secret(var, environ) == expected


def test_read_secret_from_file_strips_the_trailing_newline(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(VALUE + "\n")
    assert read_secret(EnvVar("T", secret=True, from_file=str(path))) == VALUE


def test_a_missing_required_secret_is_a_clear_error_without_any_value(tmp_path: Path) -> None:
    var = EnvVar("OPENAI_API_KEY", secret=True, from_host="OPENAI_API_KEY", default=None)
    with pytest.raises(SecretMissing) as err:
        read_secret(var, {"OPENAI_API_KEYX": VALUE})
    assert str(err.value).startswith(
        "secret OPENAI_API_KEY has no value: host variable $OPENAI_API_KEY is not set"
    )
    assert err.value.exit_code == 1 and VALUE not in str(err.value)
    missing = EnvVar("T", secret=True, from_file=str(tmp_path / "nope"))
    with pytest.raises(SecretMissing, match="does not exist"):
        read_secret(missing)
    assert read_secret(missing, required=False) is None  # callers may override


def test_repr_of_a_secret_never_shows_its_value() -> None:
    var = EnvVar("PW", value=VALUE, secret=True, default=VALUE, digest="hmac-sha256:00")
    assert VALUE not in repr(var) and "hmac-sha256:00" in repr(var)
    assert "plain" in repr(EnvVar("A", value="plain"))


def test_host_context_creates_the_key_only_for_a_spec_with_secrets(state: Path) -> None:
    from aifo.compile.hostcontext import host_context

    ctx = host_context("demo", environ={"T": VALUE})
    assert not (state / "sessions" / "demo" / "secret.key").exists()
    d = ctx.secret_digest(EnvVar("T", secret=True, from_host="T"))
    assert d == digest(session_key("demo"), "T", VALUE)
    assert os.path.exists(state / "sessions" / "demo" / "secret.key")
