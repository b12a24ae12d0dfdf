#!/usr/bin/env python3
"""What a new opencode session's first prompt costs over its second, in a warm serve (issue 20).

    .venv/bin/python bench/opencode_first_prompt.py [--reps 12] [--wait 0.5] [--warm-with X,Y]

One ``opencode serve`` launched as caw launches it (caw.providers.opencode.serve: password,
``{"snapshot": false}``), against caw.testing's scripted model server (answers at 0 ms),
offline. It is warmed first (two sessions, two prompts each); then, interleaved rep by rep
(the order reversed every other rep):

- ``new``: ``POST /session`` (titled, as caw makes it), a pause, prompt 1, a pause, prompt 2;
- ``new+NAME``: as ``new``, with the candidate warm-up NAME sent on the session right after
  its creation (before the pause); ``--warm-with`` picks them (default: all of CANDIDATES);
- ``new:agent_model`` (``--agent-model``): the session created with the agent and model
  its first prompt would record (as caw now creates it: ``first_prompt_choice``); the
  ``new+NAME`` sessions too, then.

``--library``: instead, caw's new chat on a warm serve (the session created ahead, as
caw-server's standby does) with and without ``first_prompt_choice``, interleaved.

Each prompt is one blocking ``POST /session/{id}/message``, split at the model server:
``to_model`` (POST sent -> model request received) and ``after_model`` (answer written ->
POST returned). ``--check`` also prints, per warm-up, the messages the session holds before
its first prompt (must be 0) and whether its first model request equals a plain one's.

Findings (opencode 1.18.33, 2 shared cores): a session's first prompt differs from its later
ones in ``SessionPrompt.createUserMessage``: with no model in the prompt it looks the model up
(the session's, its messages', then ``Provider.defaultModel``) and, the session having no
agent and model yet, writes both to it (``Session.setAgentModel``: one more database
transaction, ~22 more WAL page writes in strace, and a ``session.updated`` event), before the
model request. Nothing else is per session: no file, git, ripgrep or LSP work differs (strace
-f: the same AGENTS.md/CLAUDE.md/CONTEXT.md look-ups and auth.json read on every prompt, no
spawn); the title request is already avoided (caw's title), the per-prompt
``SessionSummary.summarize`` stops at ``snapshot: false``. None of the read-only candidates
(GET session, messages, todo, children, diff, status; PATCH title; /file/status, /agent,
/command, /lsp, /path, /vcs) changed the first prompt beyond noise; creating the session with
the agent and model it would get (``new:agent_model``; caw now does:
caw.providers.opencode.serve.first_prompt_choice) removes that step: at load 5.4 (30 reps)
first prompt 100.5 -> 82.6 ms, serve CPU 67.8 -> 58.7 ms (later prompt after the same pause
70.8 ms); at load 0.3 (24 reps) time to the model request 27.4 -> 22.4 ms (later prompts
20-24 ms), wall 44.4 / 44.0 ms against 35 ms (50 ms after the previous prompt) and 40 ms
(after a 1 s pause): what is left (~4 ms, after the model's answer) is not explained. A
prompt after a pause is itself slower than one 50 ms after another at low load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

from study import LoadLog, ModelTiming, median, scripted_cli

TIMEOUT = 60.0
LOADS = LoadLog()  # sampled after each rep

# name -> (method, path with {id}, params/json): requests that touch no conversation.
CANDIDATES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "get": ("GET", "/session/{id}", {}),
    "messages": ("GET", "/session/{id}/message", {}),
    "todo": ("GET", "/session/{id}/todo", {}),
    "children": ("GET", "/session/{id}/children", {}),
    "diff": ("GET", "/session/{id}/diff", {}),
    "patch": ("PATCH", "/session/{id}", {"json": {"title": "caw session"}}),
    "file_status": ("GET", "/file/status", {}),
    "agent": ("GET", "/agent", {}),
    "command": ("GET", "/command", {}),
    "lsp": ("GET", "/lsp", {}),
    "path": ("GET", "/path", {}),
    "vcs": ("GET", "/vcs", {}),
    "status": ("GET", "/session/status", {}),
}


# The later prompts of a ``new`` session: (name, pause before it; None: --wait).
LATER: list[tuple[str, float | None]] = [("prompt 2", 0.05), ("prompt 3", 0.05), ("prompt 4", None)]


async def new_session(serve: Any, agent_model: bool = False) -> str:
    """A session as caw creates it; ``agent_model``: made with the agent and model its first
    prompt would otherwise write to it (``Session.setAgentModel``)."""
    from caw.providers.opencode.options import UNTITLED, permission_rules

    body: dict[str, Any] = {"permission": permission_rules("ask"), "title": UNTITLED}
    if agent_model:
        provider, _, model = str((await serve.config())["model"]).partition("/")
        body["agent"] = "build"
        body["model"] = {"id": model, "providerID": provider, "variant": "default"}
    return str((await serve.json("POST", "/session", "POST /session", json=body))["id"])


def cpu_ns(pid: int) -> int:
    """CPU time of all of ``pid``'s threads so far (ns; steadier than wall time under load)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):  # a thread that just ended
            total += int((task / "schedstat").read_text().split()[0])
    return total


async def prompt(serve: Any, session: str, text: str, timing: ModelTiming) -> dict[str, float]:
    seen = len(timing.started)
    body = {"parts": [{"type": "text", "text": text}]}
    cpu = cpu_ns(serve.pid)
    sent = time.monotonic()
    response = await serve.request(
        "POST", f"/session/{session}/message", "POST message", json=body, timeout=TIMEOUT
    )
    done = time.monotonic()
    response.raise_for_status()
    result = {"wall_ms": (done - sent) * 1000, "cpu_ms": (cpu_ns(serve.pid) - cpu) / 1e6}
    if len(timing.started) > seen and len(timing.finished) > seen:
        result["to_model_ms"] = (timing.started[seen] - sent) * 1000
        result["after_model_ms"] = (done - timing.finished[seen]) * 1000
    return result


async def warm_up(serve: Any, session: str, names: list[str]) -> None:
    for name in names:
        method, path, kwargs = CANDIDATES[name]
        response = await serve.request(method, path.format(id=session), name, **kwargs)
        if response.status_code >= 400:
            print(f"  {name}: HTTP {response.status_code} {response.text[:200]}")


async def measure(
    args: argparse.Namespace, env: dict[str, str], work: str, timing: ModelTiming
) -> Any:
    from caw.providers.opencode.serve import ServeProcess

    cli = shutil.which("opencode", path=env["PATH"])
    assert cli, "opencode is not on PATH (tests/backends: npm ci)"
    serve = await ServeProcess.launch(cli, work, env, 120.0)
    try:
        await serve.warm_up()
        for i in range(2):
            session = await new_session(serve)
            for j in range(2):
                await prompt(serve, session, f"Repeat after me: warming {i} {j}", timing)
        warm_with = [n for n in args.warm_with.split(",") if n and n != "-"]
        warm_with = warm_with if args.warm_with else list(CANDIDATES)
        variants = ["new", *(["new:agent_model"] if args.agent_model else [])]
        variants += [f"new+{n}" for n in warm_with]
        results: dict[str, list[dict[str, float]]] = {
            v: [] for v in [*variants, *(name for name, _ in LATER)]
        }
        checks: dict[str, Any] = {}
        for rep in range(args.reps):
            for name in variants if rep % 2 == 0 else list(reversed(variants)):
                made_whole = name == "new:agent_model" or (args.agent_model and name != "new")
                session = await new_session(serve, made_whole)
                if name.startswith("new+"):
                    await warm_up(serve, session, name[4:].split("+"))
                await asyncio.sleep(args.wait)
                if args.check and rep == 0:
                    held = await serve.json("GET", f"/session/{session}/message", "messages")
                    checks[name] = {"messages_before": len(held)}
                results[name].append(
                    await prompt(serve, session, f"Repeat after me: {rep}", timing)
                )
                if args.check and rep == 0:
                    checks[name]["body"] = timing.bodies[-1]
                if name == "new":  # prompts 2 and 3 as a warm turn (50 ms apart), 4 after a pause
                    for later, pause in LATER:
                        await asyncio.sleep(args.wait if pause is None else pause)
                        results[later].append(await prompt(serve, session, "Say hi.", timing))
                await serve.request("DELETE", f"/session/{session}", "DELETE")
            LOADS.sample()
        if args.check:
            plain = json.dumps(checks["new"]["body"], sort_keys=True)
            for name, check in checks.items():
                same = json.dumps(check["body"], sort_keys=True) == plain
                print(f"  check {name}: {check['messages_before']} messages before, "
                      f"first model request {'same as' if same else 'DIFFERS from'} new's")  # fmt: skip
        return results
    finally:
        await serve.stop()


async def library_new_chat(args: argparse.Namespace, env: dict[str, str], work: str) -> None:
    """caw's new chat on a warm serve, its session created ahead (``AsyncAgent.prestart``, as
    caw-server's standby), with and without the agent and model recorded at its creation
    (caw.providers.opencode.serve.first_prompt_choice), interleaved."""
    from unittest import mock

    import caw.providers.opencode as opencode
    from caw import AsyncAgent
    from caw.providers.opencode.serve import first_prompt_choice as choice

    async def nothing(serve: Any, model: Any, variant: Any) -> dict[str, Any]:
        return {}

    agent = AsyncAgent("opencode", env=env, cwd=work, permission_mode="ask")
    anchor = await agent.start_session()  # the serve stays warm between the chats
    for i in range(3):
        await anchor.send(f"Repeat after me: warming {i}")
    rows: dict[bool, list[list[float]]] = {False: [], True: []}
    for rep in range(args.reps):
        for ahead in (False, True) if rep % 2 == 0 else (True, False):
            with mock.patch(
                f"{opencode.__name__}.first_prompt_choice", choice if ahead else nothing
            ):
                standby = await agent.prestart()
            assert standby is not None
            await asyncio.sleep(args.wait)  # a person
            session = await agent.start_session(session_id=standby.session_id)
            times = []
            for text, pause in (("one", 0.0), ("two", 0.05), ("three", args.wait)):
                await asyncio.sleep(pause)
                started = time.monotonic()
                await session.send(f"Repeat after me: {text}")
                times.append((time.monotonic() - started) * 1000)
            await session.end()
            rows[ahead].append(times)
        LOADS.sample()
    await anchor.end()
    print(f"caw new chat on a warm serve (session created ahead); {args.reps} pairs interleaved")
    print(LOADS.summary())
    pairs = [a[0] - b[0] for a, b in zip(rows[True], rows[False], strict=True)]
    print(f"  first send, with - without (paired): median {median(pairs):+.1f} ms")
    for ahead, turns in rows.items():
        cells = [median([t[i] for t in turns]) for i in range(3)]
        print(f"  agent+model at creation {ahead!s:5}: first send {cells[0]:5.1f} ms, "
              f"next 50 ms later {cells[1]:5.1f} ms, after a {args.wait:g} s pause {cells[2]:5.1f} ms")  # fmt: skip


def main(args: argparse.Namespace) -> None:
    timing = ModelTiming()
    with scripted_cli("opencode", timing) as (env, work):
        LOADS.sample()
        if args.library:
            asyncio.run(library_new_chat(args, env, str(work)))
            return
        results = asyncio.run(measure(args, env, str(work), timing))
    print(f"opencode first prompt vs second, one warm serve; {args.reps} reps interleaved")
    print(LOADS.summary())
    print(f"  {'prompt (medians, ms)':28s} {'wall':>6s} {'to model':>9s} {'after model':>12s}"
          f" {'serve CPU':>10s}")  # fmt: skip
    for name, turns in results.items():
        label = f"new, {name}" if name.startswith("prompt") else f"{name}, prompt 1"
        cells = [median([t[k] for t in turns if k in t]) for k in ("wall_ms", "to_model_ms")]
        after = median([t["after_model_ms"] for t in turns if "after_model_ms" in t])
        cpu = median([t["cpu_ms"] for t in turns])
        print(f"  {label:28s} {cells[0]:6.1f} {cells[1]:9.1f} {after:12.1f} {cpu:10.1f}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=12, help="prompts per variant")
    parser.add_argument("--wait", type=float, default=0.5, help="seconds before a first prompt")
    parser.add_argument(
        "--warm-with", default="", help="comma-separated CANDIDATES ('+' joins; '-': none)"
    )
    parser.add_argument("--agent-model", action="store_true", help="variant new:agent_model")
    parser.add_argument("--library", action="store_true", help="caw's new chat, with/without")
    parser.add_argument("--check", action="store_true", help="verify the session stays untouched")
    return parser.parse_args()


if __name__ == "__main__":
    main(parse_args())
