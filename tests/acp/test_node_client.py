"""``caw acp`` driven by the official TypeScript SDK's client (``@agentclientprotocol/sdk``).

``node/flow.mjs`` runs an editor's day (initialize, new, a fact, a tool call, a cancelled
slow prompt, a stdio MCP server's tool, a permission question rejected then allowed, kill -9, a new ``caw acp``,
list, load, the fact recalled, a tampered id) and prints what it saw; this judges it.
``make test-setup`` installs the SDK from ``node/package-lock.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.procs import processes, wait_until
from tests.tools.conftest import LOOKUP

from .conftest import stream_the_fact_slowly

pytestmark = pytest.mark.e2e

NODE_DIR = Path(__file__).with_name("node")


def with_home(home: str) -> list[int]:
    """Live processes whose environment has this HOME (the test's backends)."""
    found = []
    for pid in processes():
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"HOME={home}".encode() in environ:
            found.append(pid)
    return found


def test_typescript_sdk_client_flow(provider, cli_env, scripted, tmp_path):
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / "@agentclientprotocol" / "sdk").is_dir():
        pytest.skip("the TypeScript SDK is not installed (make test-setup)")
    env, work, data = cli_env(provider), tmp_path / "work", tmp_path / "data"
    work.mkdir()
    stream_the_fact_slowly(scripted, data)
    out = subprocess.run(
        [node, str(NODE_DIR / "flow.mjs"), sys.executable, provider, str(data), str(work), str(LOOKUP)],
        env={**os.environ, **env}, cwd=NODE_DIR, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-4000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])

    caps = seen["initialize"]["agentCapabilities"]
    assert seen["initialize"]["protocolVersion"] == 1 and caps["loadSession"]
    assert {"list", "resume", "close"} <= set(caps["sessionCapabilities"])
    assert {o["id"] for o in seen["configOptions"]} == {"provider", "model", "permission_mode"}

    assert seen["fact"] == {
        "stopReason": "end_turn", "text": "Noted: deploy target is staging-eu.", "chunks": seen["fact"]["chunks"],
    }  # fmt: skip
    assert seen["fact"]["chunks"] > 1
    start = next(c for c in seen["tool"]["calls"] if c["sessionUpdate"] == "tool_call")
    assert start["kind"] == "execute" and "echo node-tool-ran" in start["title"]
    ends = [c for c in seen["tool"]["calls"] if c["sessionUpdate"] == "tool_call_update"]
    assert (
        ends
        and ends[-1]["status"] == "completed"
        and "node-tool-ran" in json.dumps(ends[-1]["rawOutput"])
    )
    assert seen["mcp"] == {
        "stopReason": "end_turn",
        "text": "Tool said: env-ok-stdio-value-of-alpha",
    }
    assert seen["cancelled"] == "cancelled"

    asked = seen["permissions"]["asked"]
    assert [a["toolCall"]["kind"] for a in asked] == ["execute", "execute"]
    assert "touch node-rejected.txt" in asked[0]["toolCall"]["title"]
    assert not (work / "node-rejected.txt").exists() and (work / "node-allowed.txt").exists()

    assert [s["sessionId"] for s in seen["listed"]] == [seen["sessionId"]]
    assert seen["listed"][0]["title"] == "My deploy target is staging-eu. Remember that."
    assert seen["replayed"]["users"][:2] == [
        "My deploy target is staging-eu. Remember that.", "[[tool:bash:echo node-tool-ran]] go",
    ]  # fmt: skip
    assert "Noted: deploy target is staging-eu." in seen["replayed"]["agent"]
    assert any("echo node-tool-ran" in t for t in seen["replayed"]["toolCalls"])
    assert seen["recalled"] == {"stopReason": "end_turn", "text": "staging-eu"}
    assert seen["mcpAgain"] == "Tool said: env-ok-stdio-value-of-gamma"  # re-attached by load
    assert seen["tampered"] == -32002
    assert seen["secondExit"] == 0
    # neither the killed caw acp nor the one that exited left a backend behind
    wait_until(lambda: not with_home(env["HOME"]), timeout=30, what="no backend left")
