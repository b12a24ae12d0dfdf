"""caw 0.1.9 compatibility, the parts that need no CLI: reset-time parsing, tiers, the
provider order, the models' 0.1.9 names, the Agent's positional order and environment."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from typing import Any

import pytest

import caw
import caw.provider_order as order
from caw import Agent, ModelTier, Trajectory
from caw.errors import UsageLimitReached
from caw.tiers import resolve_model
from caw.usage_limits import DEFAULT_WAIT_MINUTES, MARGIN_MINUTES, wait_minutes_from_message

NOON = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)

# What each CLI said to the scripted server's usage-limit answer (tests/compat/test_auto_wait.py).
SEEN = [
    "claude reported an error: API Error: Request rejected (429) · usage limit reached: you have reached your usage limit for this period",
    "codex reported an error: You’ve hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro), visit https://chatgpt.com/settings/usage to purchase more credits or try again later. (usage limit)",
    "usage limit reached: you have reached your usage limit for this period",
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    monkeypatch.setenv("CAW_HOME", str(tmp_path / "caw-home"))  # no user config file
    for name in ("CAW_PROVIDER", "CAW_MODEL", "CAW_EFFORT", "CAW_AUTOWAIT", "ANTHROPIC_MODEL",
                 "ANTHROPIC_SMALL_FAST_MODEL", "OPENCODE_MODEL", "OPENCODE_SMALL_FAST_MODEL"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    yield
    order.set_provider_order(None)


@pytest.mark.parametrize(
    ("message", "minutes"),
    [
        ("Claude usage limit reached. Your limit resets 3pm (UTC).", 3 * 60 + MARGIN_MINUTES),
        ("5-hour limit reached ∙ resets 1:30pm (UTC)", 90 + MARGIN_MINUTES),
        ("limit resets 11am (UTC)", 23 * 60 + MARGIN_MINUTES),  # already past today: tomorrow
        ("You've hit your usage limit. try again in 2 hours 5 minutes.", 125),
        ("You've hit your usage limit. Try again in 3 days.", 3 * 1440),
        ('{"type":"usage_limit_reached","resets_in_seconds":3600}', 60),
        ("resets_in_seconds: 90", 2),
    ],
)
def test_reset_times_are_read_from_the_message(message, minutes):
    assert wait_minutes_from_message(message, now=NOON) == minutes


def test_codex_clock_time_is_local():
    local_noon = datetime(2026, 11, 29, 12, 0).astimezone()
    assert (
        wait_minutes_from_message("try again at 3:47 PM.", now=local_noon) == 227 + MARGIN_MINUTES
    )


@pytest.mark.parametrize("message", SEEN)
def test_a_message_without_a_time_waits_the_default(message):
    assert wait_minutes_from_message(message) is None
    assert UsageLimitReached(f"usage limit reached: {message}").wait_minutes == DEFAULT_WAIT_MINUTES


def test_tiers_map_per_provider_and_yield_to_the_provider_variables(monkeypatch):
    assert resolve_model("claude", ModelTier.STRONGEST) == "opus"
    assert resolve_model("claude_code", ModelTier.FAST) == "claude-haiku-4-5"
    assert resolve_model("codex", ModelTier.FAST) == "gpt-5.3-codex-spark"
    assert resolve_model("codex", ModelTier.STRONGEST) is None  # the CLI's own default
    assert resolve_model("codex", "gpt-5.5") == "gpt-5.5"
    monkeypatch.setenv("ANTHROPIC_SMALL_FAST_MODEL", "my-haiku")
    monkeypatch.setenv("OPENCODE_MODEL", "openai/gpt-5.5")
    assert resolve_model("claude", ModelTier.FAST) == "my-haiku"
    assert resolve_model("opencode", ModelTier.STRONGEST) == "openai/gpt-5.5"
    assert resolve_model("opencode", "strongest") == "openai/gpt-5.5"


def test_positional_order_is_0_1_9s(tmp_path):
    agent = Agent("claude", str(tmp_path), "You review code.", "opus", "high")
    core = agent.core
    assert (agent.provider, core.data_dir, core.system_prompt, core.model, core.reasoning) == (
        "claude_code", str(tmp_path), "You review code.", "opus", "high",
    )  # fmt: skip
    assert agent.provider.name == "claude_code"
    positional: list = ["claude", str(tmp_path), None, None, None, None, None, None, "", "", None]
    Agent(*positional)  # 0.1.9's eleven positional parameters
    untyped: Any = Agent
    with pytest.raises(TypeError):
        untyped(*positional, str(tmp_path))  # caw's own options (cwd, ...) are keyword-only


def test_environment_defaults(monkeypatch):
    monkeypatch.setenv("CAW_MODEL", "gpt-5.5")
    monkeypatch.setenv("CAW_EFFORT", "low")
    agent = Agent("codex")
    assert (agent.core.model, agent.core.reasoning) == ("gpt-5.5", "low")
    assert Agent("codex", model="o3", reasoning="high").core.model == "o3"


def test_setters_change_the_next_session():
    agent = Agent("claude")
    agent.set_model(ModelTier.FAST)
    agent.set_reasoning("medium")
    agent.set_system_prompt("You are a security reviewer.")
    core = agent.core
    assert (core.model, core.reasoning, core.system_prompt) == (
        "claude-haiku-4-5", "medium", "You are a security reviewer.",
    )  # fmt: skip
    agent.set_provider("codex")
    assert agent.provider == "codex" and agent.core.reasoning == "medium"


def test_unknown_session_option_is_a_clear_error():
    with pytest.raises(TypeError, match="unknown session option"):
        Agent("claude").start_session(colour="blue")


def _no_cli_env(tmp_path, installed=()):
    """An environment where only ``installed`` CLIs exist (as stub executables)."""
    env = {"PATH": str(tmp_path)}
    for cli in installed:
        stub = tmp_path / cli
        stub.write_text("#!/bin/sh\nexit 0\n")
        stub.chmod(0o755)
    return env


def test_fallback_order_picks_the_first_installed(tmp_path, monkeypatch):
    env = _no_cli_env(tmp_path, installed=["codex", "opencode"])
    monkeypatch.setenv("PATH", env["PATH"])
    assert Agent(["claude", "codex", "opencode"]).provider == "codex"
    assert Agent("opencode,codex").provider == "opencode"
    order.set_provider_order(["claude", "opencode", "codex"])
    assert order.get_provider_order() == ["claude_code", "opencode", "codex"]
    assert Agent("auto").provider == "opencode"
    assert Agent().provider == "opencode"  # no provider, a global order: fallback
    assert Agent("claude").provider == "claude_code"  # a single name stays pinned
    assert [p.name for p in caw.installed_providers()] == ["codex", "opencode"]


def test_caw_provider_comma_list(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", _no_cli_env(tmp_path, installed=["opencode"])["PATH"])
    monkeypatch.setenv("CAW_PROVIDER", "claude,codex,opencode")
    assert order.get_provider_order() == ["claude_code", "codex", "opencode"]
    assert Agent().provider == "opencode"
    assert Agent("auto").provider_order == ["claude_code", "codex", "opencode"]
    monkeypatch.setenv("CAW_PROVIDER", "codex")
    assert Agent().provider == "codex" and Agent().core.pinned


def test_models_bound_to_the_order(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", _no_cli_env(tmp_path, installed=["codex"])["PATH"])
    caw.set_provider_order([("claude", ModelTier.STRONGEST), ("codex", "gpt-5.5")])
    assert caw.get_provider_models() == {"claude_code": ModelTier.STRONGEST, "codex": "gpt-5.5"}
    assert Agent("auto").core.model == "gpt-5.5"
    assert Agent("auto", model=ModelTier.FAST).core.model == "gpt-5.3-codex-spark"
    # A concrete model meant for the first provider is dropped on the fallback.
    assert Agent(["claude", "codex"], model="opus").core.model is None
    caw.set_provider_order(["claude", "codex"], models={"codex": "o3"})
    assert caw.get_provider_models() == {"codex": "o3"}


LEGACY: dict = {
    "agent": "codex", "model": "", "session_id": "0b6f7c52-1111-4222-8333-944455556666",
    "created_at": "2026-03-01T10:00:00+00:00", "completed_at": "", "usage_limited": False,
    "system_prompt": "", "reasoning": "high", "mcp_servers": [],
    "turns": [{
        "input": "List files",
        "output": [
            {"type": "thinking", "text": "look"},
            {"type": "tool_use", "id": "c1", "name": "shell", "arguments": {"cmd": "ls"}, "output": "a.py"},
            {"type": "text", "text": "One file: a.py"},
        ],
        "usage": {"input_tokens": 100, "output_tokens": 20, "cache_read_tokens": 500,
                  "cache_write_tokens": 0, "cost_usd": 0.01},
        "duration_ms": 1500,
    }],
    "usage": {"input_tokens": 100, "output_tokens": 20}, "total_usage": {}, "duration_ms": 1500,
    "metadata": {"thread_id": "019a0000-0000-7000-8000-000000000001"},
}  # fmt: skip


def test_a_never_ended_0_1_9_trajectory_loads_with_0_1_9_semantics():
    traj = Trajectory.from_dict(LEGACY)
    assert traj.completed_at is None and not traj.is_complete
    assert traj.model is None and traj.reasoning == "high"
    turn = traj.turns[0]
    assert turn.tool_calls[0].arguments == {"cmd": "ls"} == turn.tool_calls[0].input
    assert traj.usage.total_tokens == 120  # input + output, as 0.1.9 counts
    assert traj.total_usage.cost_usd == pytest.approx(0.01)
    assert (traj.total_tool_calls, traj.subagent_trajectories, traj.usage_limited) == (1, [], False)
    back = traj.to_dict()
    assert back["turns"][0]["output"][1]["arguments"] == {"cmd": "ls"}
    assert back["completed_at"] == "" and back["reasoning"] == "high"
    # Our own file format still round-trips, tool input under "input".
    ours = Trajectory.model_validate_json(traj.model_dump_json(by_alias=True))
    assert ours.turns[0].tool_calls[0].input == {"cmd": "ls"}


def test_the_documented_names_are_importable():
    names = [
        "Agent", "Session", "Trajectory", "Turn", "TextBlock", "ThinkingBlock", "ToolUse", "ContentBlock",
        "UsageStats", "ModelTier", "register_provider", "set_provider_order", "get_provider_order",
        "get_provider_models", "installed_providers", "check_providers", "ProviderHealth", "AuthSignal",
        "Display", "DisplayMode", "get_global_display", "set_global_display", "AgentLogger",
        "InteractiveResult", "Provider", "ProviderSession", "ClaudeCodeProvider", "CodexProvider",
        "OpencodeProvider", "MCPServer", "ToolKit", "tool", "ViewerServer", "start_viewer_server",
    ]  # fmt: skip
    missing = [n for n in names if not hasattr(caw, n)]
    assert missing == []


def test_health_signals_without_a_verdict(tmp_path):
    home = tmp_path / "home"
    (home / ".codex").mkdir(parents=True)
    (home / ".codex" / "auth.json").write_text('{"tokens": {"access_token": "x"}}')
    env = {"HOME": str(home), "PATH": str(tmp_path), "OPENAI_API_KEY": "", "CODEX_API_KEY": "",
           "ANTHROPIC_API_KEY": "", "CODEX_HOME": "", "CLAUDE_CONFIG_DIR": "", "XDG_DATA_HOME": ""}  # fmt: skip
    claude, codex, opencode = caw.check_providers(["claude", "codex", "opencode"], env=env)
    assert claude.auth and codex.auth and opencode.auth
    assert (claude.installed, claude.binary_path, claude.auth.present) == (False, None, False)
    assert codex.auth.present and str(codex.auth.credentials_path).endswith("auth.json")
    assert opencode.auth.present is False and not opencode.probed
    assert os.fspath(home) in str(codex.auth.credentials_path)


def test_fast_stats_over_a_data_dir_of_both_formats(tmp_path):
    from caw import FastStats

    legacy = tmp_path / "sessions" / LEGACY["session_id"]
    legacy.mkdir(parents=True)
    (legacy / "trajectory.json").write_text(json.dumps(LEGACY))
    ours = Trajectory.from_dict(
        {**LEGACY, "session_id": "other", "completed_at": "2026-03-01T10:05:00+00:00"}
    )
    (tmp_path / "run.traj.json").write_text(ours.model_dump_json(by_alias=True))
    (tmp_path / "broken.traj.json").write_text("{not json")
    stats = {s.session_id: s for s in FastStats.iter_directory(tmp_path)}
    assert set(stats) == {LEGACY["session_id"], "other"}
    first = stats[LEGACY["session_id"]]
    assert (first.agent, first.total_tokens, first.completed_at) == ("codex", 120, "")
    assert stats["other"].completed_at.startswith("2026-03-01T10:05")
    assert FastStats.directory_total_cost(tmp_path) == pytest.approx(0.02)
    assert FastStats.from_path(tmp_path / "missing.json") is None


def test_session_store_writes_0_1_9_events_in_a_private_folder(tmp_path):
    from caw import JsonlWriter, SessionStore

    traj = Trajectory.from_dict(LEGACY)
    store = SessionStore(tmp_path / "data", traj.session_id)
    store.write_metadata(traj)
    store.append_turn(traj.turns[0], traj, raw_output='{"raw": 1}\n')
    assert (store.session_dir / "turns" / "000_input.txt").read_text() == "List files"
    kinds = [json.loads(line)["type"] for line in store.jsonl_path.read_text().splitlines()]
    assert kinds == ["metadata", "user", "thinking", "tool_call", "tool_result", "text", "turn_end"]
    saved = Trajectory.model_validate_json((store.session_dir / "trajectory.json").read_text())
    assert saved.model_dump() == traj.model_dump()  # (the reasoning effort is not saved)
    assert oct(store.session_dir.stat().st_mode & 0o777) == "0o700"
    resumed = SessionStore(tmp_path / "data", traj.session_id, resume=True)
    resumed.append_turn(traj.turns[0], traj)
    assert (store.session_dir / "turns" / "001_input.txt").exists()
    JsonlWriter(tmp_path / "sub.jsonl", subagent="helper").append({"type": "text"})
    assert json.loads((tmp_path / "sub.jsonl").read_text()) == {
        "type": "text",
        "subagent": "helper",
    }


def test_user_config_sets_tier_models_below_the_provider_variables(tmp_path, monkeypatch):
    import subprocess
    import sys

    monkeypatch.setenv("CAW_HOME", str(tmp_path / "home"))

    def caw_config(*args):
        return subprocess.run(
            [sys.executable, "-m", "caw.cli", "config", *args], capture_output=True, text=True, timeout=60
        )  # fmt: skip

    assert caw_config("set", "codex", "strongest", "gpt-5.5").returncode == 0
    assert resolve_model("codex", ModelTier.STRONGEST) == "gpt-5.5"
    assert caw_config("get", "codex", "strongest").stdout.strip() == "gpt-5.5"
    assert "codex        strongest  gpt-5.5" in caw_config("list").stdout
    assert oct((tmp_path / "home" / "config.json").stat().st_mode & 0o777) == "0o600"
    monkeypatch.setenv("OPENCODE_MODEL", "from-env")
    caw_config("set", "opencode", "strongest", "from-config")
    assert resolve_model("opencode", ModelTier.STRONGEST) == "from-env"
    caw_config("unset", "codex", "strongest")
    assert resolve_model("codex", ModelTier.STRONGEST) is None
    (tmp_path / "home" / "config.json").write_text("{broken")
    broken = caw_config("list")
    assert (
        broken.returncode != 0
        and "config.json" in broken.stderr
        and "Traceback" not in broken.stderr
    )
