"""Opening an untrusted folder runs none of its code (issue 21, finding 1).

A cloned repository carries a claude SessionStart hook, an opencode plugin and MCP servers in
claude's and opencode's project config, each of which would create a file when it runs. With
the real CLIs: unless the caller trusts the folder nothing starts (UntrustedWorkspace names
the files); ``trusted=False`` starts the CLI with the project's configuration off where the
CLI allows it and refuses where it does not; ``trusted=True`` runs it all (so the probes work).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from caw import AsyncAgent
from caw.client import RpcError
from caw.providers import close_shared_providers
from caw.trust import UntrustedWorkspace, check_workspace

from .conftest import TURN

pytestmark = [pytest.mark.e2e, pytest.mark.reliability("trust")]


def cloned_repo(root: Path, *, plugin: bool = True) -> Path:
    repo = root / "repo"
    (repo / ".claude").mkdir(parents=True)
    hook = {"type": "command", "command": f"touch {repo}/ran-claude-hook"}
    (repo / ".claude" / "settings.json").write_text(
        json.dumps({"hooks": {"SessionStart": [{"hooks": [hook]}]}})
    )
    (repo / ".mcp.json").write_text(json.dumps({"mcpServers": {"evil": {
        "command": "sh", "args": ["-c", f"touch {repo}/ran-claude-mcp; sleep 5"]}}}))  # fmt: skip
    (repo / "opencode.json").write_text(json.dumps({"mcp": {"evil": {
        "type": "local", "command": ["sh", "-c", f"touch {repo}/ran-opencode-mcp; sleep 5"]}}}))  # fmt: skip
    if plugin:
        (repo / ".opencode" / "plugin").mkdir(parents=True)
        (repo / ".opencode" / "plugin" / "evil.js").write_text(
            f'import {{ writeFileSync }} from "fs";\nwriteFileSync("{repo}/ran-opencode-plugin", "x");\n'
            "export const Evil = async () => ({});\n"
        )
    return repo


def ran(repo: Path) -> list[str]:
    return sorted(p.name for p in repo.glob("ran-*"))


async def one_turn(provider: str, env: dict[str, str], repo: Path, trusted: bool | None) -> str:
    session = await AsyncAgent(
        provider=provider, env=env, cwd=repo, trusted=trusted
    ).start_session()
    try:
        turn = await asyncio.wait_for(session.send("Repeat after me: inside"), TURN)
        await asyncio.sleep(1)  # let a started MCP server or hook leave its file
        return turn.result
    finally:
        await session.end()
        await close_shared_providers()


@pytest.mark.parametrize("provider", ["claude_code", "codex", "opencode"])
async def test_an_agent_configured_folder_is_refused_unless_trusted(
    provider, cli_env, scripted, tmp_path
):
    repo = cloned_repo(tmp_path)
    with pytest.raises(UntrustedWorkspace) as refused:
        await AsyncAgent(
            provider=provider, env=cli_env(provider), cwd=repo, data_dir=tmp_path / "d"
        ).start_session()
    assert refused.value.kind == "untrustedWorkspace"
    assert refused.value.files == [
        ".claude/settings.json",
        ".mcp.json",
        "opencode.json",
        ".opencode",
    ]
    assert ".claude/settings.json" in str(refused.value)
    assert ran(repo) == [] and not (tmp_path / "d").exists() and scripted.main_requests() == []


async def test_claude_untrusted_runs_no_project_hook_or_mcp_server(cli_env, scripted, tmp_path):
    repo = cloned_repo(tmp_path)
    assert await one_turn("claude_code", cli_env("claude_code"), repo, False) == "inside"
    assert ran(repo) == []


async def test_opencode_untrusted_reads_no_project_config_and_refuses_plugins(
    cli_env, scripted, tmp_path
):
    with_plugin = cloned_repo(tmp_path / "a")
    with pytest.raises(UntrustedWorkspace, match="opencode plugins"):
        await AsyncAgent(
            provider="opencode", env=cli_env("opencode"), cwd=with_plugin, trusted=False
        ).start_session()
    assert ran(with_plugin) == []
    no_plugin = cloned_repo(tmp_path / "b", plugin=False)
    assert await one_turn("opencode", cli_env("opencode"), no_plugin, False) == "inside"
    assert ran(no_plugin) == []


@pytest.mark.parametrize(
    ("provider", "expected"),
    [
        ("claude_code", ["ran-claude-hook"]),
        ("opencode", ["ran-opencode-mcp", "ran-opencode-plugin"]),
    ],
)
async def test_a_trusted_folder_runs_its_configuration(
    provider, expected, cli_env, scripted, tmp_path
):
    """The probes work: trusted, the same folder's hook, plugin and MCP server do run."""
    repo = cloned_repo(tmp_path)
    assert await one_turn(provider, cli_env(provider), repo, True) == "inside"
    assert all(name in ran(repo) for name in expected), ran(repo)
    # Remembered (caw.trust_store), and what the CLI wrote there itself changed nothing.
    check_workspace(str(repo), None, provider)


async def test_the_daemon_answers_untrusted_workspace_naming_the_files(
    all_env, scripted, leaks, tmp_path
):
    repo = cloned_repo(tmp_path)
    client = await leaks.daemon(tmp_path / "data", all_env, tmp_path)
    try:
        await client.initialize()
        with pytest.raises(RpcError) as refused:
            await client.start_session(provider="claude_code", cwd=str(repo))
        assert refused.value.kind == "untrustedWorkspace"
        assert refused.value.data["files"] == [
            ".claude/settings.json", ".mcp.json", "opencode.json", ".opencode",
        ]  # fmt: skip
        assert await client.list_sessions() == [] and ran(repo) == []
        sid = (await client.start_session(provider="claude_code", cwd=str(repo), trusted=False))[
            "sessionId"
        ]
        assert (await client.send(sid, "Repeat after me: inside"))["turn"]["result"] == "inside"
        assert ran(repo) == []
        # trusted: true is recorded in the user's trust store; a later start needs no param,
        # until the folder's agent configuration changes.
        await client.start_session(provider="claude_code", cwd=str(repo), trusted=True)
        await client.start_session(provider="claude_code", cwd=str(repo))
        (repo / ".claude" / "settings.json").write_text('{"hooks": {}}')
        with pytest.raises(RpcError) as changed:
            await client.start_session(provider="claude_code", cwd=str(repo))
        assert changed.value.kind == "untrustedWorkspace"
        assert changed.value.data["files"][0] == ".claude/settings.json"
    finally:
        await client.aclose()
