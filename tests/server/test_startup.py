"""A cold daemon (issue 20): ``initialize`` waits on no CLI probe, and caw-server's startup
imports nothing heavy that the answer does not need."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from caw_server import providers_info, startup
from caw_server.providers_info import ProviderProbe
from tests.support.procs import wait_until

from .conftest import plain_env

# Imported by none of caw-server's startup (up to initialize's answer): each costs tens of
# milliseconds, and none serves a message the daemon can get before a session starts.
HEAVY = ("httpx", "mcp", "caw.testing", "caw.viewer", "starlette", "uvicorn", "rich", "click")

STARTUP = """
import asyncio, json, sys
import caw_server.__main__
from caw_server.app import CawServer
from caw_server.providers_info import ProviderProbe, provider_health

async def answer():  # what initialize's answer reads
    ProviderProbe()
    await provider_health()

asyncio.run(answer())
print(json.dumps(sorted(sys.modules)))
"""

WARM_UP = """
import asyncio, json, sys
import caw_server.__main__
from caw_server import startup
asyncio.run(startup.warm_up())
print(json.dumps([sorted(sys.modules), len(startup.unbuilt_models())]))
"""

# A CLI whose --version never answers while its parent (the daemon) lives.
HANGING_CLI = """#!/bin/sh
if [ "$1" = "--version" ]; then
  touch "$0.probed"
  while kill -0 $PPID 2>/dev/null; do sleep 0.1; done
fi
exit 0
"""


def test_startup_imports_nothing_heavy():
    out = subprocess.run(
        [sys.executable, "-c", STARTUP], capture_output=True, text=True, check=True, timeout=120
    )
    imported = set(json.loads(out.stdout))
    heavy = [m for m in imported if m.split(".")[0] in HEAVY or m.startswith(HEAVY)]
    assert not heavy, f"caw-server's startup imports {sorted(heavy)}"


def test_startup_imports_no_session_stack_and_the_warm_up_does():
    """The agent, the session and the providers' adapters wait for initialize's answer
    (tens of milliseconds, issue 20); the warm-up right after it imports them."""
    out = subprocess.run(
        [sys.executable, "-c", STARTUP], capture_output=True, text=True, check=True, timeout=120
    )
    early = set(json.loads(out.stdout)) & set(startup.SESSION_STACK)
    assert not early, f"caw-server imports {sorted(early)} before initialize's answer"
    out = subprocess.run(
        [sys.executable, "-c", WARM_UP], capture_output=True, text=True, check=True, timeout=120
    )
    imported, unbuilt = json.loads(out.stdout)
    assert set(startup.SESSION_STACK) <= set(imported)
    assert unbuilt == 0


def test_caw_models_are_built_after_startup_not_during_it():
    out = subprocess.run(
        [sys.executable, "-c", "import caw_server.app, caw_server.startup as s;"
         " print(len(s.unbuilt_models()))"],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    assert int(out.stdout) > 10  # deferred: the import built (almost) none of them


async def test_build_models_builds_every_deferred_model():
    await startup.build_models()
    assert startup.unbuilt_models() == []


async def test_initialize_starts_no_probe_before_answering(daemon, monkeypatch, tmp_path):
    """In process: when initialize's answer is made, no ``--version`` has run yet; the probe
    runs after it and its version is then known."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # nothing cached
    started, release = threading.Event(), threading.Event()

    def version(path: str, *args: object, **kwargs: object) -> str:
        started.set()
        release.wait(60)
        return "9.9.9 (stand-in)"

    monkeypatch.setattr(providers_info, "cli_version", version)
    monkeypatch.setattr(providers_info, "_find", lambda name: f"/bin/{name}-cli")
    monkeypatch.setattr(providers_info, "_fingerprint", lambda path: None)
    daemon.server._probe = ProviderProbe()
    answered, probing_when_answered = daemon.server.initialize, []

    async def initialize(params: object) -> object:
        result = await answered(params)
        probing_when_answered.append(started.is_set())
        return result

    monkeypatch.setattr(daemon.server, "initialize", initialize)
    answer = await daemon.request("initialize", {"capabilities": {}})
    caw = answer["result"]["capabilities"]["experimental"]["caw"]
    assert probing_when_answered == [False]  # the answer was made before any probe ran
    assert [p["version"] for p in caw["providers"]] == [None, None, None]
    await asyncio.to_thread(started.wait, 60)  # the probe starts after the answer
    release.set()
    infos = await daemon.server._probe.get(timeout=60)
    assert {i.version for i in infos} == {"9.9.9 (stand-in)"}


async def test_initialize_is_answered_while_a_version_probe_hangs(spawn_daemon, tmp_path):
    cli = tmp_path / "claude-standin"
    cli.write_text(HANGING_CLI)
    cli.chmod(0o755)
    env = {**plain_env(tmp_path), "CAW_CLAUDE_BIN": str(cli)}
    client = await spawn_daemon("--no-data-dir", env=env, initialize=False)
    result = await client.initialize()
    claude = result["capabilities"]["experimental"]["caw"]["providers"][0]
    assert claude == {"name": "claude_code", "installed": True, "version": None}
    # The probe did start (after the answer), and hangs: the daemon still serves.
    marker = Path(f"{cli}.probed")
    await asyncio.to_thread(wait_until, marker.exists, 60, what="the version probe")
    assert await client.list_sessions() == []


@pytest.mark.skipif(os.name != "posix", reason="a shell stand-in")
async def test_a_version_probed_once_is_in_the_next_initialize(spawn_daemon, tmp_path):
    cli = tmp_path / "claude-standin"
    cli.write_text('#!/bin/sh\n[ "$1" = "--version" ] && echo "1.2.3 (Claude Code)"\nexit 0\n')
    cli.chmod(0o755)
    env = {**plain_env(tmp_path), "CAW_CLAUDE_BIN": str(cli)}
    first = await spawn_daemon("--no-data-dir", env=env, initialize=False)
    await first.initialize()
    cache = tmp_path / ".cache" / "caw" / providers_info.CACHE_FILE
    await asyncio.to_thread(  # the background probe writes it
        wait_until, lambda: cache.exists() and "1.2.3" in cache.read_text(), 60, what="the cache"
    )
    second = await spawn_daemon("--no-data-dir", env=env, initialize=False)
    result = await second.initialize()
    claude = result["capabilities"]["experimental"]["caw"]["providers"][0]
    assert claude["version"] == "1.2.3 (Claude Code)"
