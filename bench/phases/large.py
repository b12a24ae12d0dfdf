"""6. Large answers: one turn whose answer is megabytes long, time and peak memory per column.

The model server answers ``Write N characters in deltas of D`` with N characters streamed in
D-character deltas (bench/model_server.py). Each column gets a fresh driver per answer size, so
each process's peak resident memory (VmHWM) is that turn's (after one small warm-up turn, so
that no column counts its CLI's start): the caw process (the library's
driver, or the daemon) and the CLI's processes are reported apart. With a data dir, the bytes
the turn left there are reported too. Issue 21 (finding 8): caw was quadratic here.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from harness import (
    FLOOR,
    LIBRARY,
    SERVER,
    Driver,
    DriverError,
    Run,
    echo_message,
    log,
    process_tree,
    start_driver,
    variant,
)
from model_server import large_answer, large_message

TURN_TIMEOUT = 1800.0


def run(run: Run) -> dict[str, Any]:
    server = run.model_server(0.0)
    out: dict[str, Any] = {"sizes": [list(s) for s in run.large_sizes]}
    for provider in run.deep_providers:
        by_size: dict[str, dict[str, Any]] = {}
        out[provider] = by_size
        for chars, delta in run.large_sizes:
            row: dict[str, Any] = {}
            by_size[f"{chars}/{delta}"] = row
            for key in (FLOOR, LIBRARY, SERVER):
                if key not in run.variants:
                    continue
                try:
                    row[key] = measure(run, provider, key, chars, delta, server.base_url)
                except DriverError as exc:
                    run.error(f"large {provider} {key} {chars}/{delta}", exc)
                    row[key] = {"error": str(exc)[:500]}
                    continue
                r = row[key]
                log(f"large {provider} {key} {chars / 1e6:g} MB in {delta}-char deltas: {r['seconds']:.2f} s, "
                    f"caw peak {_mib(r['caw_peak'])}, CLI peak {_mib(r['cli_peak'])}, disk {_mib(r['disk'])}")  # fmt: skip
    return out


def measure(
    run: Run, provider: str, key: str, chars: int, delta: int, base_url: str
) -> dict[str, Any]:
    data = run.data_root("large", provider, f"{chars}-{delta}")
    driver = start_driver(
        run, variant(key, provider, data), base_url, "large", f"large-{provider}-{key}-{chars}"
    )
    try:
        opened = driver.call("open", timeout=300)
        message, expected, _ = echo_message()
        if driver.call("turn", text=message, timeout=300)["text"].strip() != expected:
            raise DriverError(f"{driver.name}: a wrong answer to the warm-up turn")  # the CLI is up
        token = "L" + uuid.uuid4().hex[:10]
        reply = driver.call("turn", text=large_message(chars, delta, token), timeout=TURN_TIMEOUT)
        if reply["text"].strip() != large_answer(chars, delta, token).strip():
            raise DriverError(f"{driver.name}: a wrong answer of {len(reply['text'])} characters")
        caw_peak, cli_peak = peaks(driver, key, opened.get("pid"))
        streamed = reply["deltas"][-1][1] if reply["deltas"] else 0
    finally:
        driver.close()
    return {
        "seconds": reply["seconds"], "caw_peak": caw_peak, "cli_peak": cli_peak, "streamed": streamed,
        "disk": _bytes_under(data / ("library" if key == LIBRARY else "server")) if data and key != FLOOR else None,
    }  # fmt: skip


def peaks(driver: Driver, key: str, pid: int | None) -> tuple[int | None, int]:
    """Peak RSS (VmHWM) of the caw process and, summed, of every other process below the
    driver (the CLI, its wrapper and helpers), in bytes."""
    caw = driver.proc.pid if key == LIBRARY else pid if key == SERVER else None
    _, below = process_tree(driver.proc.pid)
    cli_peak = sum(_hwm(p.pid) or 0 for p in below if p.pid != caw)
    return (_hwm(caw) if caw is not None else None), cli_peak


def _hwm(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _bytes_under(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _mib(x: float | None) -> str:
    return "-" if x is None else f"{x / (1 << 20):.0f} MiB"
