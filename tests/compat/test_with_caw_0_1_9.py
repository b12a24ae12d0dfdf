"""Both directions against caw 0.1.9 itself, every provider through its real CLI.

Needs a Python with caw 0.1.9 installed (it needs ``mcp<2``):
``python -m venv /tmp/caw019 && /tmp/caw019/bin/pip install coding-agent-wrapper==0.1.9 'mcp<2'``,
then ``CAW_0_1_9_PYTHON=/tmp/caw019/bin/python``. Skipped without it.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from caw import Agent

pytestmark = pytest.mark.e2e

PYTHON = os.environ.get("CAW_0_1_9_PYTHON", "")


def run_0_1_9(code: str, env: dict[str, str], cwd: Path) -> dict:
    if not PYTHON or not Path(PYTHON).is_file():
        pytest.skip("set CAW_0_1_9_PYTHON to a Python with coding-agent-wrapper 0.1.9")
    done = subprocess.run(
        [PYTHON, "-c", code], env={**env, "CAW_LOG": "off"}, cwd=cwd,
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_data_dir_0_1_9_wrote_resumes_here(provider, cli_env, tmp_path, scripted):
    env = cli_env(provider)
    data_dir = tmp_path / "caw_data"
    # 0.1.9 records one turn and never ends the session (the process just exits).
    wrote = run_0_1_9(
        "import caw, json\n"
        f"s = caw.Agent(provider={provider!r}, data_dir={str(data_dir)!r}).start_session()\n"
        "s.send('My locker code is 4242.')\n"
        "print(json.dumps({'handle': s.resume_handle, 'id': s.trajectory.session_id}))\n",
        env, tmp_path,
    )  # fmt: skip
    by_id = Agent(data_dir=str(data_dir), env=env).resume_session(wrote["id"])
    assert by_id.trajectory.num_turns == 1 and by_id.trajectory.completed_at is None
    assert by_id.send("What is my locker code?").result == "4242"
    assert by_id.end().num_turns == 2
    by_handle = Agent(provider, env=env).resume_session(wrote["handle"])
    assert by_handle.send("What is my locker code?").result == "4242"
    by_handle.end()


def test_a_handle_written_here_resumes_in_0_1_9(provider, cli_env, tmp_path, scripted):
    env = cli_env(provider)
    with Agent(provider, env=env).start_session() as session:
        session.send("My locker code is 5151.")
        handle = session.resume_handle
    read = run_0_1_9(
        "import caw, json\n"
        f"s = caw.Agent(provider={provider!r}).resume_session({handle!r})\n"
        "print(json.dumps({'answer': s.send('What is my locker code?').result}))\n",
        env, tmp_path,
    )  # fmt: skip
    assert read["answer"] == "5151"
