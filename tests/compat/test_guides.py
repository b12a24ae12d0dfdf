"""caw 0.1.9's guides, call by call: each script in guides/ (ours, written from what the guide
shows) runs through the real claude CLI against the scripted server and checks what the guide
says the calls do. docs/migrating.md lists which guide each covers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
GUIDES = Path(__file__).with_name("guides")
SCRIPTS = sorted(
    p.name for p in GUIDES.glob("*.py") if p.name not in ("__init__.py", "my_db_server.py")
)
# What a script shows beyond its own "ok" (the display's output).
SHOWN = {"display_and_logging.py": "shown by the display"}


def test_every_guide_has_a_script() -> None:
    assert SCRIPTS == [
        "display_and_logging.py", "mcp_servers.py", "models_and_tiers.py", "persistence.py",
        "sessions.py", "subagents.py", "toolkit.py", "trajectory_viewer.py",
    ]  # fmt: skip


@pytest.mark.parametrize("script", SCRIPTS)
def test_guide(script, cli_env, scripted, require_cli, tmp_path):
    require_cli("claude_code")
    env = {**cli_env("claude_code"), "PYTHONPATH": str(REPO)}
    for name in ("CAW_PROVIDER", "CAW_MODEL", "CAW_EFFORT", "CAW_LOG"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, str(GUIDES / script)], env=env, cwd=tmp_path,
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"stdout:\n{done.stdout[-2000:]}\nstderr:\n{done.stderr[-3000:]}"
    assert done.stdout.rstrip().endswith("ok"), done.stdout[-2000:]
    assert SHOWN.get(script, "") in done.stdout + done.stderr  # (rich prints to stderr)
