"""Which provider CLIs are installed, and their versions, for ``initialize``.

``<cli> --version`` can take a second (opencode), so the daemon probes all CLIs
at once in the background once ``initialize`` has been answered, and remembers
versions on disk keyed by the binary's path, size and mtime: ``initialize``
answers from that file and never waits on a probe (a version not known yet is
null there; ``ProviderProbe.get`` waits for it).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
from pathlib import Path

import platformdirs

from caw.health import check_provider
from caw.providers import PROVIDER_NAMES, canonical_name, find_cli
from caw.providers.base import cli_version
from caw.store import atomic_write_text

from .wire import ProviderHealthInfo, ProviderInfo

log = logging.getLogger("caw_server.providers")

CACHE_FILE = "cli-versions.json"


def _cache_path() -> Path:
    return platformdirs.user_cache_path("caw") / CACHE_FILE


def _fingerprint(path: str) -> str | None:
    try:
        real = os.path.realpath(path)
        st = os.stat(real)
    except OSError:
        return None
    return f"{real}:{st.st_size}:{st.st_mtime_ns}"


def _read_cache() -> dict[str, str]:
    try:
        data = json.loads(_cache_path().read_text(encoding="utf-8"))
        return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}
    except (OSError, ValueError, AttributeError):
        return {}


def _write_cache(entries: dict[str, str]) -> None:
    try:
        path = _cache_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(entries, indent=1, sort_keys=True))
    except OSError as exc:
        log.debug("could not write the CLI version cache: %s", exc)


def _find(name: str) -> str | None:
    return find_cli(name)


class ProviderProbe:
    """Every CLI's path and version: cached versions at once, the others probed (all at once,
    in the background) from ``start`` on; ``get`` answers with what is known by its deadline."""

    def __init__(self) -> None:
        self._cache = _read_cache()
        self._paths = {name: _find(name) for name in PROVIDER_NAMES}
        self._versions: dict[str, asyncio.Future[str | None]] = {}
        self._unknown: dict[str, tuple[str, str | None]] = {}
        for name, path in self._paths.items():
            if path is None:
                continue
            key = _fingerprint(path)
            if key and key in self._cache:
                future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
                future.set_result(self._cache[key])
                self._versions[name] = future
            else:
                self._unknown[name] = (path, key)
        self._saving: asyncio.Future[None] | None = None

    def start(self) -> None:
        """Probe the CLIs whose version the cache does not know (once)."""
        for name, (path, key) in self._unknown.items():
            self._versions[name] = asyncio.ensure_future(self._probe(path, key))
        probing = [self._versions[name] for name in self._unknown]
        self._unknown = {}
        if probing:
            self._saving = asyncio.ensure_future(self._save_when_done(probing))

    async def _probe(self, path: str, key: str | None) -> str | None:
        version = await asyncio.to_thread(cli_version, path)
        if key and version:
            self._cache[key] = version
        return version

    async def _save_when_done(self, probing: list[asyncio.Future[str | None]]) -> None:
        await asyncio.wait(probing)
        await asyncio.to_thread(_write_cache, self._cache)

    async def get(self, timeout: float = 2.0) -> list[ProviderInfo]:
        """Every provider; a version still being probed after ``timeout`` seconds (or not probed
        yet: ``start``) is reported as null."""
        pending = [f for f in self._versions.values() if not f.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)
        infos = []
        for name in PROVIDER_NAMES:
            future = self._versions.get(name)
            version = (
                future.result()
                if future is not None and future.done() and not future.exception()
                else None
            )
            infos.append(
                ProviderInfo(name=name, installed=self._paths[name] is not None, version=version)
            )
        return infos


async def provider_health(
    providers: list[str] | None = None, live: bool = False
) -> list[ProviderHealthInfo]:
    """``caw.health.check_provider`` for each provider, as wire models. Without ``live`` it only
    reads files and the environment (well under a millisecond once caw is imported); a live
    probe is one turn per CLI, so the providers are probed at once, each in its own thread."""
    names = [canonical_name(name) for name in providers] if providers else list(PROVIDER_NAMES)
    checks = [asyncio.to_thread(check_provider, name, live) for name in names]
    return [
        ProviderHealthInfo.model_validate(dataclasses.asdict(health))
        for health in await asyncio.gather(*checks)
    ]
