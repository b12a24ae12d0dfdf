"""2. Streaming: model server's first delta -> first text update at the client, and per-delta lag.

The model server streams an answer of ``streaming_words`` words with
``streaming_delta_delay`` seconds between deltas and logs when each left it
(bench/model_server.py). The client side logs when each text update arrived
(claude's stream_event line / codex's item/agentMessage/delta / opencode's SSE
message.part.delta for the floor; the ``on_event`` TextDelta for the library;
the ``session/update`` notification for caw-server). Columns are interleaved.
"""

from __future__ import annotations

import time
from typing import Any

from harness import (
    FLOOR,
    LIBRARY,
    SERVER,
    SERVER_NODATA,
    Driver,
    DriverError,
    Run,
    delta_lags,
    echo_message,
    log,
    start_driver,
    summary,
    variant,
)


def run(run: Run) -> dict[str, Any]:
    server = run.model_server(0.0, run.streaming_delta_delay)
    out: dict[str, Any] = {"delta_delay": run.streaming_delta_delay, "words": run.streaming_words}
    for provider in run.deep_providers:
        out[provider] = run_provider(run, provider, server)
    return out


def run_provider(run: Run, provider: str, server) -> dict[str, Any]:
    data = run.data_root("streaming", provider)
    keys = [k for k in (FLOOR, LIBRARY, SERVER, SERVER_NODATA) if k in run.variants]
    drivers: dict[str, Driver] = {}
    result: dict[str, Any] = {k: {"first": [], "per_delta": [], "errors": []} for k in keys}
    try:
        for key in keys:
            try:
                driver = start_driver(
                    run,
                    variant(key, provider, data),
                    server.base_url,
                    "streaming",
                    f"streaming-{provider}-{key}",
                )
                drivers[key] = driver
                driver.call("open", timeout=120)
                _turn(run, driver, server)  # warm-up
            except DriverError as exc:
                run.error(f"streaming {provider} {key}", exc)
                result[key]["errors"].append(str(exc)[:500])
                drivers.pop(key, None)
        live = list(drivers)
        for r in range(run.streaming_turns):
            for key in live[r % len(live) :] + live[: r % len(live)] if live else []:
                if key not in drivers:
                    continue
                try:
                    first, lags = _turn(run, drivers[key], server)
                except DriverError as exc:
                    run.error(f"streaming {provider} {key}", exc)
                    result[key]["errors"].append(str(exc)[:500])
                    drivers.pop(key).close()
                    continue
                if first is not None:
                    result[key]["first"].append(first)
                result[key]["per_delta"].extend(lags)
                time.sleep(run.settle)
    finally:
        for driver in drivers.values():
            driver.close()
    for key, r in result.items():
        r["first_delta"] = summary(r.pop("first"))
        r["delta_lag"] = summary(r.pop("per_delta"))
        if r["first_delta"]["n"]:
            log(f"streaming {provider} {key}: first delta +{r['first_delta']['median'] * 1000:.1f} ms, "
                f"per delta {r['delta_lag']['median'] * 1000:.1f} ms (median)")  # fmt: skip
    return result


def _turn(run: Run, driver: Driver, server) -> tuple[float | None, list[float]]:
    message, expected, token = echo_message(run.streaming_words)
    reply = driver.call("turn", text=message, timeout=180)
    if reply["text"].strip() != expected:
        raise DriverError(f"{driver.name}: wrong answer {reply['text']!r}, expected {expected!r}")
    record = server.find(token)
    if not record or not record["deltas"] or not reply["deltas"]:
        return None, []
    first = reply["deltas"][0][0] - record["deltas"][0][0]
    return first, delta_lags(record["deltas"], reply["deltas"])
