"""The daemon reports each CLI's health as ``caw.health.check_providers`` does: in
``initialize`` (files and environment only) and on ``caw/health`` (optionally probed live)."""

from __future__ import annotations

import json
import time

import pytest

from caw.client import RpcError
from caw.health import check_providers
from caw.providers import PROVIDER_NAMES

from .conftest import plain_env


def library_view(env: dict[str, str]) -> list[dict]:
    """What caw.health says in ``env``, in the wire's field names."""
    return [
        {
            "provider": h.provider,
            "installed": h.installed,
            "binaryPath": h.binary_path,
            "present": h.auth.present if h.auth else None,
            "credentialsPath": h.auth.credentials_path if h.auth else None,
            "detail": h.auth.detail if h.auth else None,
        }
        for h in check_providers(env=env)
    ]


def wire_view(health: list[dict]) -> list[dict]:
    return [
        {
            "provider": h["provider"],
            "installed": h["installed"],
            "binaryPath": h["binaryPath"],
            "present": (h["auth"] or {}).get("present"),
            "credentialsPath": (h["auth"] or {}).get("credentialsPath"),
            "detail": (h["auth"] or {}).get("detail"),
        }
        for h in health
    ]


@pytest.fixture
def logged_in_env(tmp_path):
    """codex logged in with an API key in auth.json; claude and opencode not logged in."""
    home = tmp_path / "home"
    (home / ".codex").mkdir(parents=True)
    (home / ".codex" / "auth.json").write_text(json.dumps({"OPENAI_API_KEY": "sk-test-secret"}))
    env = plain_env(home)
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "CODEX_API_KEY", "CODEX_HOME",
                 "CLAUDE_CONFIG_DIR"):  # fmt: skip
        env.pop(name, None)
    return env


async def test_initialize_and_caw_health_report_what_check_providers_does(
    spawn_daemon, logged_in_env
):
    client = await spawn_daemon("--no-data-dir", env=logged_in_env, initialize=False)
    started = time.monotonic()
    result = await client.initialize()
    answered_in = time.monotonic() - started
    health = result["capabilities"]["experimental"]["caw"]["health"]
    expected = library_view(logged_in_env)
    assert wire_view(health) == expected
    assert [h["provider"] for h in health] == list(PROVIDER_NAMES)
    codex = next(h for h in health if h["provider"] == "codex")
    assert codex["auth"]["present"] is True and codex["probed"] is False
    claude = next(h for h in health if h["provider"] == "claude_code")
    assert claude["auth"]["present"] is False
    assert answered_in < 10  # no probe turn (a probe takes a model round trip per CLI)

    asked = await client.request("caw/health", {})
    assert wire_view(asked["providers"]) == expected
    only = await client.request("caw/health", {"providers": ["codex"], "live": False})
    assert wire_view(only["providers"]) == [e for e in expected if e["provider"] == "codex"]
    assert "sk-test-secret" not in json.dumps(result) + json.dumps(asked)


async def test_caw_health_rejects_bad_params(spawn_daemon):
    client = await spawn_daemon("--no-data-dir")
    with pytest.raises(RpcError) as bad:
        await client.request("caw/health", {"providers": ["gpt-cli"]})
    assert bad.value.code == -32602 and "gpt-cli" in bad.value.message
    with pytest.raises(RpcError) as bad:
        await client.request("caw/health", {"live": "yes"})
    assert bad.value.code == -32602


@pytest.mark.e2e
async def test_caw_health_live_probes_the_cli(spawn_daemon, cli_env, scripted):
    client = await spawn_daemon("--no-data-dir", env=cli_env("codex"))
    result = await client.request("caw/health", {"providers": ["codex"], "live": True}, timeout=120)
    [codex] = result["providers"]
    assert codex["probed"] is True
    assert codex["error"] is None and codex["rateLimited"] is False
    assert any("Reply with OK." in r.user_texts()[-1] for r in scripted.main_requests())
