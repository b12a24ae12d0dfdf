"""1. Per-turn latency of turns 2..N of one conversation, every column interleaved.

Each column (floor, caw library, caw-server, caw 0.1.9) keeps one conversation;
round r sends turn r to each column in turn, the order rotating each round
(A B C D, B C D A, ...) so no column always follows the same neighbour. Turn 1
(the backend's start) is reported apart. Answers are checked.
"""

from __future__ import annotations

import time
from typing import Any

from harness import (
    OLD,
    Driver,
    DriverError,
    Run,
    echo_message,
    log,
    start_driver,
    summary,
    variant,
)


def run(run: Run, latency: float) -> dict[str, Any]:
    server = run.model_server(latency)
    out: dict[str, Any] = {}
    for provider in run.providers:
        out[provider] = run_provider(run, provider, latency, server)
    return out


def run_provider(run: Run, provider: str, latency: float, server) -> dict[str, Any]:
    data = run.data_root(f"turns-{latency:g}", provider)
    drivers: dict[str, Driver] = {}
    result: dict[str, Any] = {}
    for key in run.variants:
        result[key] = {"samples": [], "first_delta_lags": [], "errors": []}
        try:
            driver = start_driver(
                run,
                variant(key, provider, data),
                server.base_url,
                f"turns-{latency:g}",
                f"turns-{latency:g}-{provider}-{key}",
            )
            drivers[key] = driver
            opened = driver.call("open", timeout=120)
            first = _turn(run, driver, server)
            result[key].update(open_seconds=opened["seconds"], first_turn_seconds=first["seconds"])
            log(
                f"turns latency={latency:g} {provider} {key}: open {opened['seconds']:.2f} s, turn 1 {first['seconds']:.3f} s"
            )
        except DriverError as exc:
            run.error(f"turns {latency:g} {provider} {key}", exc)
            result[key]["errors"].append(str(exc)[:500])
            drivers.pop(key, None)
    try:
        keys = list(drivers)
        for r in range(run.turns):
            order = keys[r % len(keys) :] + keys[: r % len(keys)] if keys else []
            for key in order:
                if key not in drivers or (key == OLD and r >= run.old_turns):
                    continue
                try:
                    t = _turn(run, drivers[key], server)
                except DriverError as exc:
                    run.error(f"turns {latency:g} {provider} {key} turn {r + 2}", exc)
                    result[key]["errors"].append(str(exc)[:500])
                    drivers.pop(key).close()
                    continue
                result[key]["samples"].append(t["seconds"])
                if t.get("first_delta_lag") is not None:
                    result[key]["first_delta_lags"].append(t["first_delta_lag"])
                for name, value in (t.get("phases") or {}).items():
                    result[key].setdefault("phases", {}).setdefault(name, []).append(value)
                if (
                    t.get("stream_done_after_answer") is not None
                ):  # opencode floor: SSE completion vs the POST's answer
                    result[key].setdefault("stream_done_after_answer", []).append(
                        t["stream_done_after_answer"]
                    )
                time.sleep(run.settle)  # let the previous column's process go quiet
    finally:
        for driver in drivers.values():
            driver.close()
    for key, r in result.items():
        r["summary"] = summary(r["samples"])
        r["first_delta"] = summary(r["first_delta_lags"])
        r["phases"] = {name: summary(values) for name, values in (r.get("phases") or {}).items()}
        if "stream_done_after_answer" in r:
            r["stream_done_after_answer"] = summary(r["stream_done_after_answer"])
        s = r["summary"]
        if s["n"]:
            log(
                f"turns latency={latency:g} {provider} {key}: median {s['median']:.3f} s, p95 {s['p95']:.3f} s (n={s['n']})"
            )
    return result


def _turn(run: Run, driver: Driver, server) -> dict[str, Any]:
    message, expected, token = echo_message()
    reply = driver.call("turn", text=message, timeout=180)
    if reply["text"].strip() != expected:
        raise DriverError(f"{driver.name}: wrong answer {reply['text']!r}, expected {expected!r}")
    reply["first_delta_lag"] = None
    record = server.find(token)
    if record and record["deltas"]:
        # Where the turn's time went: before the model was asked, the model and the stream, after the last delta.
        end = reply["t_send"] + reply["seconds"]
        reply["phases"] = {"to_model": record["t_request"] - reply["t_send"]}
        if reply.get("deltas"):
            reply["first_delta_lag"] = reply["deltas"][0][0] - record["deltas"][0][0]
            reply["phases"]["model_and_stream"] = reply["deltas"][-1][0] - record["t_request"]
            reply["phases"]["after_last_delta"] = end - reply["deltas"][-1][0]
        else:
            reply["phases"]["model_to_end"] = end - record["t_request"]
    return reply
