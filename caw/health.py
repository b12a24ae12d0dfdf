"""Provider health: raw signals about each CLI (installed, where, credentials), no verdict.

The fast check reads only the disk and the environment; ``live=True`` also sends one short
probe message through caw (one request's cost) and reports a usage limit or an error.
Credential files are only looked at for presence and expiry; their secrets are never read
into the result.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .providers import canonical_name, find_cli, provider_names

#: Seconds a live probe's turn may take (a CLI that cannot reach its API retries for minutes).
PROBE_TIMEOUT = 20.0


@dataclass
class AuthSignal:
    """What caw could tell about a provider's credentials (None: could not tell)."""

    present: bool | None = None
    detail: str = ""
    credentials_path: str | None = None
    token_expires_at: datetime | None = None
    token_expired: bool | None = None


@dataclass
class ProviderHealth:
    provider: str
    installed: bool
    binary_path: str | None = None
    auth: AuthSignal | None = None
    probed: bool = False
    rate_limited: bool | None = None
    wait_minutes: int | None = None
    error: str | None = None


def _home(env: Mapping[str, str]) -> Path:
    return Path(env.get("HOME") or os.path.expanduser("~"))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _expiry(value: Any) -> datetime | None:
    """A timestamp in seconds or milliseconds since the epoch, as a UTC datetime."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    seconds = value / 1000 if value > 1e11 else value
    return datetime.fromtimestamp(seconds, timezone.utc)


def _jwt_expiry(token: Any) -> datetime | None:
    if not isinstance(token, str) or token.count(".") != 2:
        return None
    payload = token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return None
    return _expiry(claims.get("exp")) if isinstance(claims, dict) else None


def _signal(present: bool, detail: str, path: Path | None, expires: datetime | None) -> AuthSignal:
    expired = None if expires is None else expires <= datetime.now(timezone.utc)
    return AuthSignal(present, detail, str(path) if path else None, expires, expired)


def _claude_auth(env: Mapping[str, str]) -> AuthSignal:
    if env.get("ANTHROPIC_API_KEY"):
        return _signal(True, "ANTHROPIC_API_KEY is set", None, None)
    base = (
        Path(env["CLAUDE_CONFIG_DIR"]) if env.get("CLAUDE_CONFIG_DIR") else _home(env) / ".claude"
    )
    path = base / ".credentials.json"
    data = _read_json(path)
    if not isinstance(data, dict):
        return _signal(False, f"no API key and no credentials file at {path}", path, None)
    oauth = data.get("claudeAiOauth")
    expires = _expiry(oauth.get("expiresAt")) if isinstance(oauth, dict) else None
    return _signal(True, "claude.ai login (credentials file)", path, expires)


def _codex_auth(env: Mapping[str, str]) -> AuthSignal:
    for name in ("CODEX_API_KEY", "OPENAI_API_KEY"):
        if env.get(name):
            return _signal(True, f"{name} is set", None, None)
    base = Path(env["CODEX_HOME"]) if env.get("CODEX_HOME") else _home(env) / ".codex"
    path = base / "auth.json"
    data = _read_json(path)
    if not isinstance(data, dict):
        return _signal(False, f"no API key and no {path}", path, None)
    if data.get("OPENAI_API_KEY"):
        return _signal(True, "API key in auth.json", path, None)
    tokens = data.get("tokens")
    if isinstance(tokens, dict) and tokens:
        expires = _jwt_expiry(tokens.get("access_token")) or _jwt_expiry(tokens.get("id_token"))
        return _signal(True, "ChatGPT login (auth.json)", path, expires)
    return _signal(False, "auth.json holds no key or login", path, None)


def _opencode_auth(env: Mapping[str, str]) -> AuthSignal:
    data_home = (
        Path(env["XDG_DATA_HOME"]) if env.get("XDG_DATA_HOME") else _home(env) / ".local" / "share"
    )
    path = data_home / "opencode" / "auth.json"
    data = _read_json(path)
    if not isinstance(data, dict) or not data:
        return _signal(
            False,
            f"no logins in {path} (provider keys in the environment are not checked)",
            path,
            None,
        )
    expiries = [_expiry(v.get("expires")) for v in data.values() if isinstance(v, dict)]
    known = [e for e in expiries if e is not None]
    names = ", ".join(sorted(str(k) for k in data))
    return _signal(True, f"logged in to {names}", path, min(known) if known else None)


_AUTH = {"claude_code": _claude_auth, "codex": _codex_auth, "opencode": _opencode_auth}


def check_provider(
    provider: str, live: bool = False, env: Mapping[str, str] | None = None
) -> ProviderHealth:
    """One provider's signals; ``env`` adds to the process environment (as an Agent's does)."""
    name = canonical_name(provider)
    full_env = {**os.environ, **(env or {})}
    binary = find_cli(name, full_env)
    auth_reader = _AUTH.get(name)
    health = ProviderHealth(
        provider=name, installed=binary is not None, binary_path=binary,
        auth=auth_reader(full_env) if auth_reader else None,
    )  # fmt: skip
    if live and binary is not None:
        _probe(health, dict(env or {}))
    return health


def _probe(health: ProviderHealth, env: dict[str, str]) -> None:
    from .agent import AsyncAgent
    from .errors import CawError, UsageLimitReached
    from .sync import run

    health.probed = True
    try:
        probe = AsyncAgent(health.provider, env=env, turn_timeout=PROBE_TIMEOUT)
        run(asyncio.wait_for(probe.completion("Reply with OK."), PROBE_TIMEOUT * 2))
    except UsageLimitReached as exc:
        health.rate_limited, health.wait_minutes = True, exc.wait_minutes
        return
    except (CawError, OSError) as exc:
        health.error = str(exc)
        return
    except TimeoutError:
        health.error = f"no answer within {PROBE_TIMEOUT * 2:.0f} s"
        return
    health.rate_limited = False


def check_providers(
    providers: Iterable[str] | None = None, live: bool = False, env: Mapping[str, str] | None = None
) -> list[ProviderHealth]:
    """The signals of ``providers`` (default: every registered provider), in that order."""
    names = list(providers) if providers is not None else list(provider_names())
    return [check_provider(name, live=live, env=env) for name in names]
