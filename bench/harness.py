"""What every measurement shares: driver processes, the model server, environments, /proc, statistics."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import json
import math
import os
import re
import select
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from caw.testing import cli_environment

BENCH = Path(__file__).resolve().parent
DRIVERS = BENCH / "drivers"
VENV019 = BENCH / ".venv-caw019"
PROVIDERS = ("claude_code", "codex", "opencode")
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

# Column keys, in table/chart order.
FLOOR, LIBRARY, SERVER, SERVER_NODATA, OLD = "floor", "library", "server", "server_nodata", "caw019"
VARIANT_LABELS = {
    FLOOR: "bare CLI (floor)", LIBRARY: "caw library", SERVER: "caw-server",
    SERVER_NODATA: "caw-server --no-data-dir", OLD: "caw 0.1.9",
}  # fmt: skip
ORDER = (FLOOR, LIBRARY, SERVER, SERVER_NODATA, OLD)


def log(*parts: Any) -> None:
    print(time.strftime("%H:%M:%S"), *parts, file=sys.stderr, flush=True)


# --- statistics ---------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None for no data."""
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def summary(values: list[float]) -> dict[str, Any]:
    return {
        "n": len(values),
        "median": percentile(values, 50),
        "p95": percentile(values, 95),
        "min": min(values) if values else None,
        "max": max(values) if values else None,
    }


# --- child processes ----------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_us(parent: int) -> None:
    _libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)


class DriverError(RuntimeError):
    pass


class Driver:
    """One measurement driver (bench/drivers/*.py) in its own process group; see _proto.py."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], cwd: Path, log_dir: Path):
        self.name = name
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.log"
        self._log = self.log_path.open("ab")
        parent = os.getpid()
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, env=env, cwd=cwd,
            start_new_session=True, preexec_fn=lambda: _die_with_us(parent),
        )  # fmt: skip
        self._buf = b""

    def _readline(self, timeout: float) -> bytes:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DriverError(
                    f"{self.name}: no answer within {timeout:g} s (log: {self.log_path})"
                )
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    raise DriverError(
                        f"{self.name}: the driver exited (rc {self.proc.wait()}); log: {self.log_path}\n{self.log_tail()}"
                    )
                self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line

    def log_tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def call(self, op: str, timeout: float = 120.0, **params: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps({"op": op, **params}) + "\n").encode())
        self.proc.stdin.flush()
        reply = json.loads(self._readline(timeout))
        if not reply.pop("ok", False):
            raise DriverError(f"{self.name} {op}: {reply.get('error')}\n{self.log_tail()}")
        return reply

    def close(self, timeout: float = 30.0) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(Exception):
                self.call("close", timeout=timeout)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        kill_group(self.proc.pid)
        self.proc.wait()
        self._log.close()


def kill_group(pgid: int) -> None:
    """End a process group we started (a driver and what it spawned in its group)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            return
        if sig == signal.SIGTERM:
            time.sleep(0.2)


class ModelServer:
    """bench/model_server.py in a process of its own, so it never competes with a measured client for the GIL."""

    def __init__(
        self, work: Path, latency: float = 0.0, delta_delay: float = 0.0, name: str = "model"
    ):
        work.mkdir(parents=True, exist_ok=True)
        self.timing_log = work / f"{name}-timing.jsonl"
        self.timing_log.touch()
        self._stderr = (work / f"{name}.log").open("ab")
        argv = [sys.executable, str(BENCH / "model_server.py"), "--timing-log", str(self.timing_log),
                "--latency", str(latency), "--delta-delay", str(delta_delay)]  # fmt: skip
        parent = os.getpid()
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            start_new_session=True,
            preexec_fn=lambda: _die_with_us(parent),
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().strip()
        if not line.startswith("http"):
            raise RuntimeError(f"the model server did not start: {line!r}")
        self.base_url = line
        self.latency, self.delta_delay = latency, delta_delay
        self._offset = 0
        self._records: list[dict[str, Any]] = []

    def records(self) -> list[dict[str, Any]]:
        with self.timing_log.open("rb") as f:
            f.seek(self._offset)
            data = f.read()
        complete = data[: data.rfind(b"\n") + 1]
        self._offset += len(complete)
        self._records.extend(json.loads(line) for line in complete.splitlines() if line.strip())
        return self._records

    def find(self, token: str, timeout: float = 3.0) -> dict[str, Any] | None:
        """The first streamed answer to a user message containing ``token``."""
        deadline = time.monotonic() + timeout
        while True:
            for record in self.records():
                if token in (record.get("user") or ""):
                    return record
            if time.monotonic() > deadline:
                return None
            time.sleep(0.02)

    def close(self) -> None:
        kill_group(self.proc.pid)
        self.proc.wait()
        self._stderr.close()


# --- environments -------------------------------------------------------------------


def environment(
    provider: str, base_url: str, root: Path, *, caw019: bool = False
) -> dict[str, str]:
    """The CLI's hermetic environment (caw.testing) for one variant, without caw settings from outside."""
    env = cli_environment(provider, base_url, root)
    for key in list(env):
        if key.startswith("CAW_") and key != "CAW_SCRIPTED_API_KEY":
            del env[key]
    if caw019:  # its own interpreter and packages only
        env.pop("PYTHONPATH", None)
        env.pop("PYTHONHOME", None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


@dataclass
class Variant:
    """How to start one column's driver."""

    key: str
    provider: str
    argv: list[str]
    caw019: bool = False


def variant(key: str, provider: str, data_dir: Path | None) -> Variant:
    py = sys.executable
    if key == FLOOR:
        script = {
            "claude_code": "floor_claude.py",
            "codex": "floor_codex.py",
            "opencode": "floor_opencode.py",
        }[provider]
        return Variant(key, provider, [py, str(DRIVERS / script)])
    if key == LIBRARY:
        extra = ["--data-dir", str(data_dir / "library")] if data_dir else []
        return Variant(key, provider, [py, str(DRIVERS / "caw_library.py"), provider, *extra])
    if key == SERVER:
        extra = ["--data-dir", str(data_dir / "server")] if data_dir else []
        return Variant(key, provider, [py, str(DRIVERS / "caw_daemon.py"), provider, *extra])
    if key == SERVER_NODATA:
        return Variant(key, provider, [py, str(DRIVERS / "caw_daemon.py"), provider])
    if key == OLD:
        return Variant(
            key,
            provider,
            [str(VENV019 / "bin" / "python"), str(DRIVERS / "caw019.py"), provider],
            caw019=True,
        )
    raise ValueError(key)


def start_driver(run: Run, v: Variant, base_url: str, area: str, name: str) -> Driver:
    """Start ``v``'s driver with a home and working directory of its own under ``run.root/area``."""
    home = run.root / area / v.provider / v.key
    work = home / "work"
    work.mkdir(parents=True, exist_ok=True)
    env = environment(v.provider, base_url, home, caw019=v.caw019)
    return Driver(name, v.argv, env, work, run.root / "logs")


# --- caw 0.1.9 ----------------------------------------------------------------------

CAW019_REQUIREMENTS = [
    "coding-agent-wrapper==0.1.9",
    "mcp<2",
]  # 0.1.9 imports mcp.server.fastmcp, gone in mcp 2


def caw019_ready(venv: Path = VENV019) -> bool:
    return (venv / ".installed").exists()


def ensure_caw019(venv: Path = VENV019) -> str:
    """Make ``venv`` (default bench/.venv-caw019) with caw 0.1.9, once: later calls, also the
    compatibility tests' (tests/compat), reuse it. Returns its versions. Concurrent callers
    wait for one another (a lock on the venv's parent folder)."""
    python = venv / "bin" / "python"
    venv.parent.mkdir(parents=True, exist_ok=True)
    folder = os.open(venv.parent, os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        if not caw019_ready(venv):
            log("installing coding-agent-wrapper==0.1.9 into", venv)
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            subprocess.run(
                [
                    str(python),
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    *CAW019_REQUIREMENTS,
                ],
                check=True,
            )
            (venv / ".installed").write_text(" ".join(CAW019_REQUIREMENTS) + "\n")
    finally:
        os.close(folder)  # (closing releases the lock)
    out = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('coding-agent-wrapper'), m.version('mcp'))"],
        capture_output=True, text=True, check=True, cwd=str(venv),
    )  # fmt: skip
    return out.stdout.strip()


# --- the process table --------------------------------------------------------------


@dataclass
class ProcInfo:
    pid: int
    ppid: int
    cmd: str
    cpu: float  # user + system seconds, own
    child_cpu: float  # user + system seconds of waited-for children
    rss: int  # bytes
    pss: int | None = None  # bytes (smaps_rollup), when readable


def proc_info(pid: int, pss: bool = False) -> ProcInfo | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmd = (
            Path(f"/proc/{pid}/cmdline")
            .read_bytes()
            .replace(b"\0", b" ")
            .decode(errors="replace")
            .strip()
        )
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":
        return None
    info = ProcInfo(
        pid=pid, ppid=int(fields[1]), cmd=cmd,
        cpu=(int(fields[11]) + int(fields[12])) / CLK_TCK, child_cpu=(int(fields[13]) + int(fields[14])) / CLK_TCK,
        rss=int(fields[21]) * PAGE,
    )  # fmt: skip
    if pss:
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    info.pss = int(line.split()[1]) * 1024
                    break
    return info


# caw's watchdog (caw.providers.watchdog: a small process that outlives caw to sweep what its
# backends started) lives as long as caw does: not a backend, so not counted as one.
WATCHDOG = "caw/providers/watchdog.py"


def process_tree(root: int, pss: bool = False) -> tuple[ProcInfo | None, list[ProcInfo]]:
    """``root`` and its live descendants (caw's watchdog aside)."""
    table: dict[int, ProcInfo] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (info := proc_info(int(entry), pss)) is not None:
            table[info.pid] = info
    children: dict[int, list[ProcInfo]] = {}
    for info in table.values():
        children.setdefault(info.ppid, []).append(info)
    found, frontier = [], [root]
    while frontier:
        for child in children.get(frontier.pop(), []):
            if WATCHDOG not in child.cmd:
                found.append(child)
                frontier.append(child.pid)
    return table.get(root), found


@dataclass
class TreeSample:
    """CPU and memory of a daemon and of everything below it, at one moment."""

    when: float
    daemon_cpu: float
    reaped_cpu: float  # CPU of descendants that already ended (counted in the daemon's child time)
    backends_cpu: float  # CPU of live descendants
    daemon_rss: int
    backends_rss: int
    daemon_pss: int | None
    backends_pss: int | None
    backends: int
    backend_cpu_by_pid: dict[int, float] = field(default_factory=dict)

    @property
    def pss(self) -> int | None:
        """The daemon's and its backends' PSS together; None when /proc did not give both."""
        if self.daemon_pss is None or self.backends_pss is None:
            return None
        return self.daemon_pss + self.backends_pss


def sample_tree(root: int) -> TreeSample:
    daemon, below = process_tree(root, pss=True)
    if daemon is None:
        raise RuntimeError(f"process {root} is gone")
    known_pss = [p.pss for p in below if p.pss is not None]
    backends_pss = sum(known_pss) if len(known_pss) == len(below) else None
    return TreeSample(
        when=time.monotonic(), daemon_cpu=daemon.cpu, reaped_cpu=daemon.child_cpu + sum(p.child_cpu for p in below),
        backends_cpu=sum(p.cpu for p in below), daemon_rss=daemon.rss, backends_rss=sum(p.rss for p in below),
        daemon_pss=daemon.pss, backends_pss=backends_pss,
        backends=len(below), backend_cpu_by_pid={p.pid: p.cpu for p in below},
    )  # fmt: skip


async def quiet_sample(root: int, timeout: float = 15.0) -> TreeSample:
    """A sample once ``root`` has no children (initialize probes the CLIs' versions in child processes)."""
    deadline = time.monotonic() + timeout
    while True:  # polled: /proc has no event for "the children are gone"
        sample = sample_tree(root)
        if not sample.backends or time.monotonic() >= deadline:
            return sample
        await asyncio.sleep(0.1)


def cpu_between(a: TreeSample, b: TreeSample) -> dict[str, float]:
    """Seconds of CPU used between two samples by the daemon and by its backends."""
    wall = b.when - a.when
    # Backends alive at both samples: their difference; new ones: all of theirs; ended ones: via reaped time.
    backends = sum(
        cpu - a.backend_cpu_by_pid.get(pid, 0.0) for pid, cpu in b.backend_cpu_by_pid.items()
    )
    backends += max(0.0, b.reaped_cpu - a.reaped_cpu)
    backends -= sum(
        cpu for pid, cpu in a.backend_cpu_by_pid.items() if pid not in b.backend_cpu_by_pid
    )  # now in reaped
    return {"wall": wall, "daemon_cpu": b.daemon_cpu - a.daemon_cpu, "backends_cpu": backends}


# --- one run ------------------------------------------------------------------------


@dataclass
class Run:
    """Settings and shared state of one bench run."""

    root: Path  # scratch directory (homes, data dirs, logs)
    providers: list[str]
    deep_providers: list[str]  # the providers of every measurement after the per-turn one
    latencies: list[float]
    turns: int
    quick: bool
    old_turns: (
        int  # caw 0.1.9 takes part in the first rounds only (a new CLI process per turn is slow)
    )
    variants: list[str]
    data_dir: bool = True
    settle: float = 0.05
    streaming_turns: int = 15
    streaming_words: int = 30
    streaming_delta_delay: float = 0.01
    resume_reps: int = 3
    sessions: list[int] = field(default_factory=lambda: [1, 10, 50])
    concurrency_turns: int = 4
    memory_sessions: int = 10
    idle_timeout: float = 4.0
    # The first answer (phases.first_answer): cold daemon starts, new chats and reopened
    # editors per provider (reps: odd, for a median that is one of them), the warm turns
    # taken in each rep beside them, sessions held idle.
    cold_reps: int = 10
    first_reps: int = 9
    first_turns: int = 3
    idle_sessions: int = 50
    large_sizes: list[tuple[int, int]] = field(
        default_factory=lambda: [(1_000_000, 20), (10_000_000, 1000), (30_000_000, 1000)]
    )  # (characters, characters per delta) of the large-answer measurement
    errors: list[str] = field(default_factory=list)
    _servers: dict[tuple[float, float], ModelServer] = field(default_factory=dict)

    def model_server(self, latency: float = 0.0, delta_delay: float = 0.0) -> ModelServer:
        key = (latency, delta_delay)
        if key not in self._servers:
            self._servers[key] = ModelServer(
                self.root / "model",
                latency,
                delta_delay,
                name=f"model-l{latency:g}-d{delta_delay:g}",
            )
        return self._servers[key]

    def data_root(self, *parts: str) -> Path | None:
        return self.root.joinpath("data", *parts) if self.data_dir else None

    def error(self, where: str, exc: BaseException | str) -> None:
        text = f"{where}: {exc}"
        log("ERROR", text)
        self.errors.append(text)

    def close(self) -> None:
        for server in self._servers.values():
            server.close()
        self._servers.clear()


# --- messages -----------------------------------------------------------------------

_WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
]


def echo_message(words: int = 3) -> tuple[str, str, str]:
    """A ``Repeat after me`` message with a unique token: (message, expected answer, token)."""
    token = "b" + uuid.uuid4().hex[:10]
    answer = " ".join([token, *(_WORDS[i % len(_WORDS)] for i in range(words))])
    return f"Repeat after me: {answer}", answer, token


def delta_lags(server: list[list[float]], client: list[list[float]]) -> list[float]:
    """Per client delta: its arrival time minus when the server sent the text it completes.

    Deltas are paired by cumulative characters, so a client that merges or splits
    deltas is still compared with the moment its last character left the server.
    """
    lags, j = [], 0
    for when, chars in client:
        while j < len(server) and server[j][1] < chars:
            j += 1
        if j == len(server):
            break
        lags.append(when - server[j][0])
    return lags
