"""Bad input gets the JSON-RPC error the spec asks for, and ``caw acp`` keeps serving.

Driven by the Python SDK's client, except the framing checks, which need bytes no SDK
would send (a line that is not JSON, a batch).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest
from acp import RequestError, schema

from caw.acp.mcp import AcpMcpServers
from tests.support.procs import alive, descendants, wait_until

from .conftest import TURN, Editor, caw_acp, prompt, text_block

pytestmark = pytest.mark.e2e

PROVIDER = "claude_code"  # the checks are above the backend; one provider suffices


async def test_bad_requests_get_clear_errors(cli_env, scripted, work, tmp_path):
    env, data, log = cli_env(PROVIDER), tmp_path / "data", tmp_path / "caw-acp.log"
    editor = Editor()
    async with caw_acp(
        editor, env, work, "--provider", PROVIDER, "--data-dir", str(data), stderr=log
    ) as (conn, proc):
        # unknown and tampered ids: -32002, and nothing is started
        for bad in ("0b7f6c1e-0000-4000-8000-000000000000", "../../etc", "x" * 500):
            for call in (
                conn.load_session(cwd=str(work), session_id=bad, mcp_servers=[]),
                conn.resume_session(cwd=str(work), session_id=bad, mcp_servers=[]),
                conn.prompt(session_id=bad, prompt=[text_block("hi")]),
            ):
                with pytest.raises(RequestError) as err:
                    await call
                assert err.value.code == -32002
        assert descendants(proc.pid) == {}

        # MCP servers: an unsupported transport or a bad server is refused by name, never dropped
        sse = schema.SseMcpServer(
            type="sse", name="events", url="http://127.0.0.1:9/sse", headers=[]
        )
        misnamed = schema.McpServerStdio(name="bad name!", command="/bin/true", args=[], env=[])
        for server, words in ((sse, "sse transport"), (misnamed, "bad name!")):
            servers: AcpMcpServers = [server]
            with pytest.raises(RequestError) as err:
                await conn.new_session(cwd=str(work), mcp_servers=servers)
            assert err.value.code == -32602 and words in json.dumps(err.value.data)
        with pytest.raises(RequestError) as err:
            await conn.new_session(cwd="relative/dir", mcp_servers=[])
        assert err.value.code == -32602

        sid = (await conn.new_session(cwd=str(work), mcp_servers=[])).session_id
        # an image was not advertised: invalid params, and the session goes on
        image = schema.ImageContentBlock(type="image", data="aGk=", mime_type="image/png")
        with pytest.raises(RequestError) as err:
            await conn.prompt(session_id=sid, prompt=[image])
        assert err.value.code == -32602 and "image" in json.dumps(err.value.data)

        # text, a resource link and an embedded resource reach the model as one message
        link = schema.ResourceContentBlock(
            type="resource_link", name="notes.md", uri="file:///w/notes.md"
        )
        embedded = schema.EmbeddedResourceContentBlock(
            type="resource",
            resource=schema.TextResourceContents(
                uri="file:///w/a.py", text="print('embedded-ctx')"
            ),
        )
        assert (
            await prompt(conn, sid, text_block("Repeat after me: ok"), link, embedded) == "end_turn"
        )
        seen = json.dumps(scripted.main_requests()[-1].body)  # raw: the scripted model's cleaned
        assert "file:///w/notes.md" in seen and "embedded-ctx" in seen  # text drops <tags>

        # config options: unknown option and value are invalid params; a known one changes
        for config_id, value in (
            ("colour", "red"),
            ("permission_mode", "sometimes"),
            ("provider", "gpt"),
        ):
            with pytest.raises(RequestError) as err:
                await conn.set_config_option(config_id=config_id, session_id=sid, value=value)
            assert err.value.code == -32602
        changed = await conn.set_config_option(
            config_id="permission_mode", session_id=sid, value="deny"
        )
        assert {o.id: o.current_value for o in changed.config_options}["permission_mode"] == "deny"
        mark = len(editor.updates)
        await prompt(conn, sid, text_block("[[tool:bash:touch denied.txt]] go"))
        assert not (work / "denied.txt").exists() and editor.asked == []
        with pytest.raises(RequestError) as err:  # a session with turns keeps its backend
            await conn.set_config_option(config_id="provider", session_id=sid, value="codex")
        assert err.value.code == -32602
        assert (
            "denied" in editor.text(since=mark).lower()
            or "reject" in editor.text(since=mark).lower()
        )


async def test_a_new_session_can_switch_provider_before_its_first_prompt(
    cli_env, scripted, work, tmp_path
):
    env = {**cli_env("claude_code"), **cli_env("opencode")}
    editor = Editor()
    flags = ("--provider", "claude_code", "--data-dir", str(tmp_path / "data"))
    async with caw_acp(editor, env, work, *flags, stderr=tmp_path / "log") as (conn, _proc):
        sid = (await conn.new_session(cwd=str(work), mcp_servers=[])).session_id
        changed = await conn.set_config_option(
            config_id="provider", session_id=sid, value="opencode"
        )
        assert {o.id: o.current_value for o in changed.config_options}["provider"] == "opencode"
        assert await prompt(conn, sid, text_block("Repeat after me: switched")) == "end_turn"
        assert editor.text() == "switched"
        listed = (await conn.list_sessions(cwd=str(work))).sessions
        assert [s.session_id for s in listed] == [sid]
        trajectory = json.loads(
            (tmp_path / "data" / "sessions" / sid / "trajectory.json").read_text()
        )
        assert trajectory["agent"] == "opencode"
        assert (scripted.main_requests()[-1].session_id or "").startswith("ses_")  # opencode's id


def test_framing_errors_are_answered_and_serving_goes_on(tmp_path):
    lines = [
        "this is not json",
        "[1, 2]",
        json.dumps({"jsonrpc": "2.0", "id": 7, "method": "no/such/method", "params": {}}),
        json.dumps({"jsonrpc": "2.0", "id": 8, "method": "session/new", "params": {"cwd": 5}}),
        json.dumps(
            {"jsonrpc": "2.0", "id": 9, "method": "initialize", "params": {"protocolVersion": 1}}
        ),
    ]
    out = subprocess.run(
        [sys.executable, "-m", "caw.cli", "acp", "--no-data-dir"],
        input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    answers = [json.loads(line) for line in out.stdout.splitlines()]  # only JSON-RPC on stdout
    by_id = {a["id"]: a for a in answers}
    codes = sorted(a["error"]["code"] for a in answers if a["id"] is None)
    assert codes == [-32700, -32600]
    assert by_id[7]["error"]["code"] == -32601
    assert by_id[8]["error"]["code"] == -32602
    assert by_id[9]["result"]["protocolVersion"] == 1
    assert by_id[9]["result"]["agentCapabilities"]["promptCapabilities"]["embeddedContext"] is True
    assert out.returncode == 0


async def test_initialize_advertises_what_caw_does(cli_env, work, tmp_path):
    editor = Editor()
    async with caw_acp(
        editor, cli_env(PROVIDER), work, "--data-dir", str(tmp_path / "d"), stderr=tmp_path / "log"
    ) as (conn, _proc):
        init = await asyncio.wait_for(conn.initialize(protocol_version=1), TURN)
    caps = init.agent_capabilities
    assert caps is not None and caps.load_session
    assert caps.session_capabilities is not None
    assert (
        caps.session_capabilities.list
        and caps.session_capabilities.resume
        and caps.session_capabilities.close
    )
    assert caps.prompt_capabilities is not None and caps.prompt_capabilities.embedded_context
    assert caps.mcp_capabilities is not None and caps.mcp_capabilities.http
    assert init.agent_info is not None and init.agent_info.name == "caw"


async def test_a_session_never_prompted_loads_in_a_new_process(cli_env, scripted, work, tmp_path):
    env, flags = cli_env(PROVIDER), ("--provider", PROVIDER, "--data-dir", str(tmp_path / "data"))
    async with caw_acp(Editor(), env, work, *flags, stderr=tmp_path / "log") as (conn, proc):
        sid = (await conn.new_session(cwd=str(work), mcp_servers=[])).session_id
        proc.kill()
        await proc.wait()
    editor = Editor()
    async with caw_acp(editor, env, work, *flags, stderr=tmp_path / "log") as (conn, _proc):
        assert [s.session_id for s in (await conn.list_sessions(cwd=str(work))).sessions] == [sid]
        await conn.load_session(cwd=str(work), session_id=sid, mcp_servers=[])
        assert editor.updates == []  # nothing to replay
        assert await prompt(conn, sid, text_block("Repeat after me: first words")) == "end_turn"
        assert editor.text() == "first words"


def test_stdio_may_be_files_or_dev_null(tmp_path):
    """Not only pipes: /dev/null ends it at once; a file of requests is answered into a file."""
    command = [sys.executable, "-m", "caw.cli", "acp", "--no-data-dir"]
    with open(os.devnull, "rb") as nothing:
        done = subprocess.run(command, stdin=nothing, capture_output=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0 and done.stdout == b""
    requests, answers = tmp_path / "requests.jsonl", tmp_path / "answers.jsonl"
    requests.write_text(
        json.dumps(
            {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": 1}}
        )
        + "\n"
    )
    with requests.open("rb") as given, answers.open("wb") as taken:
        done = subprocess.run(
            command, stdin=given, stdout=taken, stderr=subprocess.PIPE, timeout=60, cwd=tmp_path
        )
    assert done.returncode == 0, done.stderr
    (answer,) = [json.loads(line) for line in answers.read_text().splitlines()]
    assert answer["id"] == 1 and answer["result"]["protocolVersion"] == 1


async def test_sigterm_ends_the_backends_and_exits_cleanly(cli_env, scripted, work, tmp_path):
    flags = ("--provider", PROVIDER, "--data-dir", str(tmp_path / "data"))
    editor = Editor()
    async with caw_acp(editor, cli_env(PROVIDER), work, *flags, stderr=tmp_path / "log") as (
        conn,
        proc,
    ):
        sid = (await conn.new_session(cwd=str(work), mcp_servers=[])).session_id
        assert await prompt(conn, sid, text_block("Repeat after me: before the end")) == "end_turn"
        backends = descendants(proc.pid)
        assert backends
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        wait_until(
            lambda: not any(alive(p) for p in backends), timeout=30, what="the backends to end"
        )
    trajectory = json.loads((tmp_path / "data" / "sessions" / sid / "trajectory.json").read_text())
    assert trajectory["completedAt"] and [t["result"] for t in trajectory["turns"]] == [
        "before the end"
    ]


async def test_a_session_open_in_another_caw_acp_is_busy(cli_env, scripted, work, tmp_path):
    """One writer per session: a second ``caw acp`` on the same data dir gets a clear error
    naming the holder, and starts nothing; the first goes on."""
    env, flags = cli_env(PROVIDER), ("--provider", PROVIDER, "--data-dir", str(tmp_path / "data"))
    first_editor = Editor()
    async with caw_acp(first_editor, env, work, *flags, stderr=tmp_path / "log") as (first, _p1):
        sid = (await first.new_session(cwd=str(work), mcp_servers=[])).session_id
        assert await prompt(first, sid, text_block("Repeat after me: mine")) == "end_turn"
        async with caw_acp(Editor(), env, work, *flags, stderr=tmp_path / "log") as (second, p2):
            with pytest.raises(RequestError) as err:
                await second.load_session(cwd=str(work), session_id=sid, mcp_servers=[])
            assert err.value.code == -32603 and "sessionBusy" in json.dumps(err.value.data)
            assert descendants(p2.pid) == {}
        assert await prompt(first, sid, text_block("Repeat after me: still mine")) == "end_turn"
