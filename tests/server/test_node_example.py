"""protocol/examples/caw-client.mjs, a Node client on the standard library alone, against the real daemon."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from .conftest import REPO

pytestmark = pytest.mark.e2e

EXAMPLE = REPO / "protocol" / "examples" / "caw-client.mjs"


def test_node_example_client(cli_env, scripted, tmp_path):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    env = cli_env("claude_code")
    out = subprocess.run(
        [node, str(EXAMPLE), sys.executable, "-m", "caw_server", "--no-data-dir", "--provider", "claude_code"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    steps = [json.loads(line) for line in out.stdout.splitlines()]
    assert [s["step"] for s in steps] == [
        "initialize",
        "start",
        "send",
        "send",
        "error",
        "end",
        "exit",
    ]
    assert steps[0] == {"step": "initialize", "server": "caw-server", "protocolVersion": "1.2"}
    assert steps[1]["provider"] == "claude_code"
    assert steps[2] == {
        "step": "send",
        "result": "Noted: deploy target is staging-eu.",
        "streamed": "Noted: deploy target is staging-eu.",
        "hasHandle": True,
    }
    assert steps[3]["result"] == "staging-eu"
    assert steps[4] == {"step": "error", "code": 1001, "kind": "unknownSession"}
    assert steps[5]["turns"] == 2
    assert steps[6]["code"] == 0
