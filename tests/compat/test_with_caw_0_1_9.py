"""Both directions against caw 0.1.9 itself, every provider through its real CLI.

caw 0.1.9 runs from a side venv (it needs ``mcp<2``): bench/.venv-caw019, made on first use by
the benchmark's own installer (``pip install coding-agent-wrapper==0.1.9 'mcp<2'`` from the
package index, about 15 s) and reused after. ``CAW_0_1_9_PYTHON`` names another Python with
0.1.9 installed instead.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from caw import Agent

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def caw_0_1_9() -> str:
    """The Python of a venv with caw 0.1.9 (made once for every test and the benchmark)."""
    given = os.environ.get("CAW_0_1_9_PYTHON")
    if given:
        return given
    # bench/ is a folder of scripts, not a package: its harness is loaded from its file, under
    # the name bench's scripts import it by.
    harness = sys.modules.get("harness")
    if harness is None:
        spec = importlib.util.spec_from_file_location("harness", REPO / "bench" / "harness.py")
        assert spec is not None and spec.loader is not None
        harness = sys.modules["harness"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(harness)
    harness.ensure_caw019(harness.VENV019)
    return str(harness.VENV019 / "bin" / "python")


def run_0_1_9(python: str, code: str, env: dict[str, str], cwd: Path) -> dict:
    done = subprocess.run(
        [python, "-c", code], env={**env, "CAW_LOG": "off"}, cwd=cwd,
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_both_ways_a_data_dir_0_1_9_wrote_resumes_here_and_a_handle_written_here_in_0_1_9(
    provider, cli_env, tmp_path, scripted, caw_0_1_9
):
    """One test per CLI for both directions: one fresh CLI home, whose first start is slow."""
    env = cli_env(provider)
    data_dir = tmp_path / "caw_data"
    # 0.1.9 records one turn and never ends the session (the process just exits).
    wrote = run_0_1_9(
        caw_0_1_9,
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

    # The reverse: a handle written here resumes in 0.1.9.
    with Agent(provider, env=env).start_session() as session:
        session.send("My locker code is 5151.")
        handle = session.resume_handle
    read = run_0_1_9(
        caw_0_1_9,
        "import caw, json\n"
        f"s = caw.Agent(provider={provider!r}).resume_session({handle!r})\n"
        "print(json.dumps({'answer': s.send('What is my locker code?').result}))\n",
        env, tmp_path,
    )  # fmt: skip
    assert read["answer"] == "5151"
