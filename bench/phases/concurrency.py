"""4. Concurrency: 1, 10, 50 sessions in one caw-server, every session sending at once.

Per level, a fresh daemon: start the sessions concurrently, tell each its own
code word (turn 1, untimed for latency), then every session runs
``concurrency_turns`` turns back to back at the same time (echo turns, and last
the code-word question, so a mixed-up conversation shows). Throughput is turns
per second of wall time over that phase; latency is per ``session/send``; CPU
is read from /proc for the daemon and for its backend processes; memory (RSS
and PSS) at the end, with every session live.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from harness import (
    Run,
    TreeSample,
    cpu_between,
    echo_message,
    environment,
    log,
    quiet_sample,
    sample_tree,
    summary,
)

SEND_TIMEOUT = 300.0


def run(run: Run) -> dict[str, Any]:
    server = run.model_server(0.0)
    out: dict[str, Any] = {}
    for provider in run.deep_providers:
        out[provider] = {}
        for sessions in run.sessions:
            home = run.root / "concurrency" / provider / str(sessions)
            work = home / "work"
            work.mkdir(parents=True, exist_ok=True)
            env = environment(provider, server.base_url, home)
            data = str(home / "data") if run.data_dir else None
            try:
                out[provider][str(sessions)] = r = asyncio.run(
                    level(run, provider, sessions, env, str(work), data)
                )
            except Exception as exc:
                run.error(f"concurrency {provider} {sessions} sessions", exc)
                continue
            log(f"concurrency {provider} x{sessions}: {r['throughput']:.1f} turns/s, p95 {r['latency']['p95']:.3f} s, "
                f"daemon CPU {r['daemon_cpu_percent']:.0f}%, {r['correct']}/{r['turns']} correct")  # fmt: skip
            if r["correct"] != r["turns"]:
                run.error(
                    f"concurrency {provider} {sessions} sessions",
                    f"{r['turns'] - r['correct']} wrong answers: {r['wrong'][:3]}",
                )
    return out


def memory(sample: TreeSample) -> dict[str, Any]:
    return {
        "daemon_rss": sample.daemon_rss, "backends_rss": sample.backends_rss,
        "daemon_pss": sample.daemon_pss, "backends_pss": sample.backends_pss, "backends": sample.backends,
    }  # fmt: skip


async def level(
    run: Run, provider: str, count: int, env: dict[str, str], work: str, data: str | None
) -> dict[str, Any]:
    from caw.client import CawClient

    client = await CawClient.spawn(
        *(["--data-dir", data] if data else ["--no-data-dir"]), env=env, cwd=work
    )
    try:
        await client.initialize()
        pid = client.pid
        assert pid is not None, "a spawned daemon has a pid"
        base = await quiet_sample(pid)
        t0 = time.monotonic()
        started = await asyncio.gather(
            *(client.start_session(provider=provider, cwd=work) for _ in range(count))
        )
        ids = [s["sessionId"] for s in started]
        words = ["w" + uuid.uuid4().hex[:8] for _ in ids]
        t1 = time.monotonic()
        await asyncio.gather(*(
            asyncio.wait_for(client.send(sid, f"My code word is {word}. Remember that."), SEND_TIMEOUT) for sid, word in zip(ids, words, strict=False)
        ))  # fmt: skip
        t2 = time.monotonic()
        latencies: list[float] = []
        wrong: list[str] = []

        async def converse(session_id: str, word: str) -> None:
            for k in range(run.concurrency_turns):
                last = k == run.concurrency_turns - 1
                message, expected, _ = (
                    ("What is my code word?", word, None) if last else echo_message()
                )
                sent = time.monotonic()
                answer = await asyncio.wait_for(client.send(session_id, message), SEND_TIMEOUT)
                latencies.append(time.monotonic() - sent)
                text = answer["turn"]["result"].strip()
                if (expected not in text) if last else (text != expected):
                    wrong.append(f"{text!r} instead of {expected!r}")

        before = sample_tree(pid)
        await asyncio.gather(*(converse(sid, word) for sid, word in zip(ids, words, strict=False)))
        after = sample_tree(pid)
        cpu = cpu_between(before, after)
        turns = count * run.concurrency_turns
        return {
            "sessions": count,
            "turns": turns,
            "correct": turns - len(wrong),
            "wrong": wrong[:10],
            "start_seconds": t1 - t0,
            "first_turn_seconds": t2 - t1,
            "wall": cpu["wall"],
            "throughput": turns / cpu["wall"],
            "latency": summary(latencies),
            "daemon_cpu_seconds": cpu["daemon_cpu"],
            "backends_cpu_seconds": cpu["backends_cpu"],
            "daemon_cpu_percent": 100 * cpu["daemon_cpu"] / cpu["wall"],
            "backends_cpu_percent": 100 * cpu["backends_cpu"] / cpu["wall"],
            "daemon_cpu_ms_per_turn": 1000 * cpu["daemon_cpu"] / turns,
            "memory_base": memory(base),
            "memory_live": memory(after),
        }
    finally:
        await client.aclose(timeout=120)
