"""5. Memory: RSS (and PSS) of caw-server and its backends per live session, and after idle reaping.

A daemon with ``--idle-timeout``: measured alone, then with ``memory_sessions``
live sessions (each started and sent one turn), then once idle reaping has
stopped every backend process, then after one more send to a reaped session
(which resumes its backend transparently; the answer must come from history).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from harness import Run, environment, log, quiet_sample, sample_tree

from phases.concurrency import memory

SEND_TIMEOUT = 300.0


def run(run: Run) -> dict[str, Any]:
    server = run.model_server(0.0)
    out: dict[str, Any] = {"idle_timeout": run.idle_timeout, "sessions": run.memory_sessions}
    for provider in run.deep_providers:
        home = run.root / "memory" / provider
        work = home / "work"
        work.mkdir(parents=True, exist_ok=True)
        env = environment(provider, server.base_url, home)
        data = str(home / "data") if run.data_dir else None
        try:
            out[provider] = r = asyncio.run(measure(run, provider, env, str(work), data))
        except Exception as exc:
            run.error(f"memory {provider}", exc)
            continue
        mib = 1 / (1 << 20)
        log(f"memory {provider}: daemon {r['base']['daemon_rss'] * mib:.0f} MiB alone, "
            f"{r['per_session_rss'] * mib:.0f} MiB RSS per live session, after reaping {r['reaped']['backends']} backends "
            f"and daemon {r['reaped']['daemon_rss'] * mib:.0f} MiB; send after reaping {r['send_after_reaping']:.2f} s")  # fmt: skip
        if not r["answer_after_reaping_correct"]:
            run.error(
                f"memory {provider}", "the send after idle reaping did not answer from history"
            )
    return out


async def measure(
    run: Run, provider: str, env: dict[str, str], work: str, data: str | None
) -> dict[str, Any]:
    from caw.client import CawClient

    args = ["--data-dir", data] if data else ["--no-data-dir"]
    client = await CawClient.spawn(
        *args, "--idle-timeout", str(run.idle_timeout), env=env, cwd=work
    )
    try:
        await client.initialize()
        pid = client.pid
        assert pid is not None, "a spawned daemon has a pid"
        base = await quiet_sample(pid)
        count = run.memory_sessions

        async def open_one() -> tuple[str, str]:
            session_id = (await client.start_session(provider=provider, cwd=work))["sessionId"]
            word = "w" + uuid.uuid4().hex[:8]
            await asyncio.wait_for(
                client.send(session_id, f"My code word is {word}. Remember that."), SEND_TIMEOUT
            )
            return session_id, word

        sessions = await asyncio.gather(*(open_one() for _ in range(count)))
        live = sample_tree(pid)
        idle_since = time.monotonic()
        deadline = idle_since + run.idle_timeout + 60
        while True:  # polled: the daemon reaps idle backends on its own clock
            now = sample_tree(pid)
            if not now.backends or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.2)
        reaped_after = time.monotonic() - idle_since
        session_id, word = sessions[0]
        sent = time.monotonic()
        answer = await asyncio.wait_for(
            client.send(session_id, "What is my code word?"), SEND_TIMEOUT
        )
        send_after = time.monotonic() - sent
        after = sample_tree(pid)
        grown = (live.daemon_rss + live.backends_rss) - (base.daemon_rss + base.backends_rss)
        grown_pss = None if live.pss is None or base.pss is None else live.pss - base.pss
        return {
            "base": memory(base),
            "live": memory(live),
            "reaped": memory(now),
            "after_one_send": memory(after),
            "per_session_rss": grown / count,
            "per_session_pss": grown_pss / count if grown_pss is not None else None,
            "daemon_growth_per_session_rss": (live.daemon_rss - base.daemon_rss) / count,
            "all_reaped": now.backends == 0,
            "reaped_after_seconds": reaped_after,
            "send_after_reaping": send_after,
            "answer_after_reaping_correct": word in answer["turn"]["result"],
        }
    finally:
        await client.aclose(timeout=120)
