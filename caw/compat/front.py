"""caw 0.1.9's ``Agent`` and ``Session``: its signatures, setters, fallback order and auto-wait,
as a thin layer over caw's own :class:`caw.sync.Agent` / :class:`caw.sync.Session`.

- ``Agent(provider, data_dir, system_prompt, model, reasoning, tools, tool_servers,
  stateless_tools, name, description, logger, **session options)``; caw's own options
  (``cwd``, ``env``, ``permission_mode``, ...) are keyword-only.
- ``provider`` may be a list, ``"auto"`` or a comma list (caw.provider_order): the first
  installed provider is chosen; until a first turn has answered, a provider that cannot start,
  is not logged in or is rate-limited hands over to the next. After that the session stays.
- ``auto_wait`` (default ``$CAW_AUTOWAIT``, on): a usage limit waits until the reset time the
  CLI names, then sends the turn again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import sync
from ..agent import AsyncAgent
from ..display import get_global_display
from ..errors import (
    BackendFailed,
    CawError,
    ProviderNotInstalled,
    SessionClosed,
    TurnTimeout,
    UsageLimitReached,
)
from ..events import Event
from ..handle import looks_like_handle
from ..models import Trajectory, Turn
from ..provider_order import first_installed, get_provider_models, resolve_order
from ..providers import provider_class
from ..providers.base import PermissionMode
from ..session import AsyncSession, EventCallback
from ..store import atomic_write_text
from ..tiers import ModelTier, as_tier, resolve_model
from ..tools.subagents import AgentSpec
from ..usage_limits import UsageLimitWaiter, auto_wait_default
from .legacy import legacy_handle

log = logging.getLogger("caw.compat")

#: Options a session may override (``start_session(**overrides)``, ``completion``).
SESSION_OPTIONS = frozenset(
    {"model", "reasoning", "system_prompt", "metadata", "auto_wait", "logger", "tools"}
)


class ProviderName(str):
    """A provider's name that also answers ``.name`` (0.1.9 returned a provider object)."""

    @property
    def name(self) -> str:
        return str(self)


@dataclass
class InteractiveResult:
    """What :meth:`Agent.interactive` returns: the CLI's exit code (130: cancelled)."""

    exit_code: int
    output: str = ""

    @property
    def session_id(self) -> str | None:
        return None


def _fallback_worthy(exc: BaseException) -> bool:
    """A first-send failure the next provider may not have: missing CLI, auth, usage limit."""
    if isinstance(exc, TurnTimeout):
        return False
    return isinstance(exc, ProviderNotInstalled | BackendFailed)


class Session(sync.Session):
    """A conversation (see :class:`caw.sync.Session`) with 0.1.9's fallback, auto-wait,
    ``send_async``, ``traj_path`` and trajectory files."""

    def __init__(
        self,
        core: AsyncSession | None,
        *,
        agent: Agent | None = None,
        remaining: Sequence[str] = (),
        auto_wait: bool = True,
        traj_path: str | os.PathLike[str] | None = None,
        on_event: EventCallback | None = None,
        loaded: Trajectory | None = None,
        overrides: Mapping[str, Any] | None = None,
    ):
        self._core = core  # type: ignore[assignment]  # None only for a loaded, read-only record
        self._agent = agent
        self._remaining = list(remaining)  # providers still to try before the first answer
        self._auto_wait = auto_wait
        self._traj_path = Path(traj_path) if traj_path is not None else None
        self._watch = on_event
        self._loaded = loaded
        self._overrides = dict(overrides or {})
        self._order_lock: asyncio.Lock | None = None
        self._waiter = UsageLimitWaiter()  # caw's one auto-wait (also the daemon's)

    @property
    def trajectory(self) -> Trajectory:
        if self._core is None:
            assert self._loaded is not None
            return self._loaded
        return self._core.trajectory

    def _live(self) -> AsyncSession:
        if self._core is None:
            raise SessionClosed("this session was loaded from a file; it cannot send")
        return self._core

    async def send_async(self, message: str) -> Turn:
        """``send`` for asyncio code: overlapping calls run in the order they were made."""
        future = asyncio.run_coroutine_threadsafe(
            self._send(message, None), sync._background_loop()
        )
        return await asyncio.wrap_future(future)

    async def _send(self, message: str, on_event: EventCallback | None) -> Turn:
        """One turn, behind ``send`` and ``stream``: falls back to the next provider of the
        order before the first answer, and waits out a usage limit when ``auto_wait`` is on (a
        wait is a ``usageLimitWait`` event)."""
        if self._order_lock is None:
            self._order_lock = asyncio.Lock()
        async with self._order_lock:  # FIFO also across fallback and waits
            watch = _tee(self._watch, on_event)
            while True:
                core = self._live()
                try:
                    turn = await core.send(message, watch)
                except Exception as exc:
                    if self._remaining and _fallback_worthy(exc):
                        await self._fall_back(exc)
                        continue
                    if isinstance(exc, UsageLimitReached) and self._auto_wait:
                        await self._waiter.wait(exc, watch)
                        continue
                    self._write_traj_path()
                    raise
                self._remaining = []  # answered: the session stays on this provider
                display = get_global_display()
                if display is not None:
                    display.end_turn()
                self._write_traj_path()
                return turn

    async def _fall_back(self, exc: BaseException) -> None:
        failed = self._live()
        assert self._agent is not None
        log.info(
            "provider %s failed before its first answer (%s); trying the next",
            failed.provider_name,
            type(exc).__name__,
        )
        with contextlib.suppress(CawError):
            await failed.end()
        # Nothing was answered there: its folder would list a conversation that never was.
        if failed.session_dir is not None:
            await asyncio.to_thread(shutil.rmtree, failed.session_dir, True)
        core, self._remaining = await self._agent._start_first(self._remaining, self._overrides)
        self._core = core

    def cancel(self) -> bool:
        """Stop the running turn, or end an auto-wait for a usage limit; its ``send`` raises
        TurnCancelled. False if neither runs."""

        async def cancel() -> bool:
            return self._waiter.cancel() or await self._live().cancel()

        return sync.run(cancel())

    def __enter__(self) -> Session:  # (typed as this class: send_async, save_trajectory...)
        return self

    def end(self) -> Trajectory:
        if self._core is None:
            return self.trajectory
        trajectory = super().end()
        self._write_traj_path()
        return trajectory

    def _write_traj_path(self) -> None:
        if self._traj_path is not None:
            self.save_trajectory(self._traj_path)

    def save_trajectory(self, path: str | os.PathLike[str]) -> None:
        """Write the trajectory (caw's JSON format) to ``path``, atomically."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, self.trajectory.model_dump_json(by_alias=True, indent=2))

    @classmethod
    def load_trajectory(cls, path: str | os.PathLike[str]) -> Session:
        """A read-only session over a saved trajectory (caw's or caw 0.1.9's file)."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(None, loaded=Trajectory.model_validate(data))

    @property
    def resume_handle(self) -> str:
        return self._live().resume_handle

    @property
    def session_id(self) -> str:
        return self.trajectory.session_id

    @property
    def provider(self) -> str:
        return self._core.provider_name if self._core is not None else self.trajectory.agent


def _tee(*callbacks: EventCallback | None) -> EventCallback | None:
    live = [c for c in callbacks if c is not None]
    if not live:
        return None

    async def both(event: Event) -> None:
        for callback in live:
            result = callback(event)
            if asyncio.iscoroutine(result):
                await result

    return both


class Agent(sync.Agent):
    """Starts and resumes sessions; caw 0.1.9's signature and setters over caw's core.

    ``provider``: a name (pinned), a list / ``"auto"`` / comma list (fallback order), or
    None (``$CAW_PROVIDER``, else the global order if set, else ``claude_code``). ``model``:
    a model string or a :class:`~caw.tiers.ModelTier` (default ``$CAW_MODEL``);
    ``reasoning`` (default ``$CAW_EFFORT``). ``auto_wait`` (default ``$CAW_AUTOWAIT``, on).
    """

    def __init__(
        self,
        provider: str | Sequence[str] | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        system_prompt: str | None = None,
        model: str | ModelTier | None = None,
        reasoning: str | None = None,
        tools: Any = None,
        tool_servers: Iterable[Any] | None = None,
        stateless_tools: Iterable[Callable[..., Any]] | None = None,
        name: str = "",
        description: str = "",
        logger: Any = None,
        *,
        auto_wait: bool | None = None,
        metadata: Mapping[str, Any] | None = None,
        mcp_servers: Iterable[Any] = (),
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        permission_mode: PermissionMode = "bypass",
        on_event: EventCallback | None = None,
        pinned: bool | None = None,
        **core_options: Any,
    ):
        self._order, self._fallback = resolve_order(provider)
        self._env = dict(env or {})
        self._model: str | ModelTier | None = model or os.environ.get("CAW_MODEL") or None
        self._reasoning = reasoning or os.environ.get("CAW_EFFORT") or None
        self._system_prompt = system_prompt
        self._data_dir = data_dir
        self._tool_group = tools
        self.name = name
        self.description = description
        self._logger = logger
        self._auto_wait = auto_wait_default() if auto_wait is None else auto_wait
        self._metadata: dict[str, Any] = dict(metadata or {})
        self._on_event = on_event
        self._core_options: dict[str, Any] = {
            "cwd": cwd, "env": env, "permission_mode": permission_mode, **core_options,
        }  # fmt: skip
        if pinned is None:
            pinned = not self._fallback and (
                provider is not None or bool(os.environ.get("CAW_PROVIDER"))
            )
        self._pinned_choice = pinned
        self._selected = (
            first_installed(self._order, {**os.environ, **self._env})
            if self._fallback
            else self._order[0]
        )
        # Tools are handed to caw's core only when given (caw.tools owns them).
        for key, value in (
            ("mcp_servers", list(mcp_servers)),
            ("tool_servers", list(tool_servers or ())),
            ("stateless_tools", list(stateless_tools or ())),
        ):
            if value:
                self._core_options[key] = value
        self._core = self._make_core(self._selected, {})

    # -- configuration -------------------------------------------------------------------

    def _model_for(self, provider: str, overrides: Mapping[str, Any]) -> str | None:
        """The concrete model for ``provider``: the Agent's (a tier re-resolved per provider;
        a concrete string only for the provider it was chosen with), else the order's."""
        model = overrides.get("model", self._model)
        if model is not None:
            if as_tier(model) is not None or not self._fallback or provider == self._order[0]:
                return resolve_model(provider, model)
            return None  # a concrete model string means nothing to the fallback
        bound = get_provider_models().get(provider)
        return resolve_model(provider, bound) if bound is not None else None

    def _make_core(self, provider: str, overrides: Mapping[str, Any]) -> AsyncAgent:
        tool_group = overrides.get("tools", self._tool_group)
        extra = {"tools": tool_group} if tool_group is not None else {}
        core = AsyncAgent(
            provider,
            self._model_for(provider, overrides),
            overrides.get("system_prompt", self._system_prompt),
            overrides.get("reasoning", self._reasoning),
            self._data_dir,
            pinned=self._pinned_choice,
            **self._core_options,
            **extra,
        )
        previous = getattr(self, "_core", None)
        if previous is not None and hasattr(previous, "tools"):
            core.tools = previous.tools  # one set of tools for every provider tried
        return core

    @property
    def provider(self) -> ProviderName:
        return ProviderName(self._selected)

    @property
    def provider_order(self) -> list[str]:
        return list(self._order)

    @property
    def metadata(self) -> dict[str, Any]:
        """Given to every session's trajectory (a session's own ``metadata=`` wins per key)."""
        return self._metadata

    @property
    def mcp_servers(self) -> list[Any]:
        return list(getattr(self._core.tools, "mcp_servers", []))

    def set_provider(self, provider: str | Sequence[str]) -> None:
        self._order, self._fallback = resolve_order(provider)
        self._pinned_choice = not self._fallback
        self._selected = (
            first_installed(self._order, {**os.environ, **self._env})
            if self._fallback
            else self._order[0]
        )
        self._core = self._make_core(self._selected, {})

    def set_model(self, model: str | ModelTier) -> None:
        self._model = model
        self._core = self._make_core(self._selected, {})

    def set_reasoning(self, reasoning: str) -> None:
        self._reasoning = reasoning
        self._core = self._make_core(self._selected, {})

    def set_system_prompt(self, system_prompt: str) -> None:
        self._system_prompt = system_prompt
        self._core = self._make_core(self._selected, {})

    def set_tools(self, tools: Any) -> None:
        """Which of the CLI's built-in tools sessions may use (a ``ToolGroup``, docs/tools.md)."""
        self._tool_group = tools
        self._core = self._make_core(self._selected, {})

    def get_spec(self) -> AgentSpec:
        """This agent as an ``AgentSpec`` (to register it as another agent's subagent)."""
        return AgentSpec(
            name=self.name, description=self.description,
            system_prompt=self._system_prompt, model=str(self._model or "") or None,
            reasoning=self._reasoning, tools=self._tool_group,
        )  # fmt: skip

    # -- health and limits ---------------------------------------------------------------

    def check_health(self, live: bool = False) -> Any:
        """The selected provider's :class:`~caw.health.ProviderHealth`."""
        from ..health import check_provider

        return check_provider(self._selected, live=live, env=self._env)

    def check_limit(self) -> int | None:
        """Minutes until the selected provider's usage limit resets, or None if it is not
        limited. Sends one short probe message (a request's cost)."""
        probe = self._make_core(self._selected, {})
        probe.store = None  # the probe is not a session worth keeping
        try:
            sync.run(probe.completion("Reply with OK."))
        except UsageLimitReached as exc:
            return exc.wait_minutes
        return None

    # -- sessions ------------------------------------------------------------------------

    def _check_overrides(self, overrides: Mapping[str, Any]) -> None:
        unknown = set(overrides) - SESSION_OPTIONS
        if unknown:
            raise TypeError(
                f"unknown session option(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(SESSION_OPTIONS))}"
            )

    async def _start_first(
        self, order: Sequence[str], overrides: Mapping[str, Any]
    ) -> tuple[AsyncSession, list[str]]:
        """A started session on the first provider of ``order`` that starts; the rest of the
        order (the providers still to try if the first send fails)."""
        metadata = {**self._metadata, **dict(overrides.get("metadata") or {})}
        remaining = list(order)
        while True:
            provider = remaining.pop(0)
            core = self._make_core(provider, overrides)
            try:
                session = await core.start_session(metadata=metadata)
            except Exception as exc:
                if remaining and self._fallback and _fallback_worthy(exc):
                    log.info(
                        "provider %s did not start (%s); trying the next",
                        provider,
                        type(exc).__name__,
                    )
                    continue
                raise
            session.trajectory.reasoning = core.reasoning
            return session, (remaining if self._fallback else [])

    def _session_watch(self, overrides: Mapping[str, Any]) -> EventCallback | None:
        from ..display import event_sink

        return event_sink(overrides.get("logger", self._logger), self._on_event)

    def start_session(
        self, traj_path: str | os.PathLike[str] | None = None, **overrides: Any
    ) -> Session:
        """A new conversation; ``traj_path``: also write its trajectory there after each turn."""
        self._check_overrides(overrides)
        order = self._order[self._order.index(self._selected) :] if self._fallback else self._order
        core, remaining = sync.run(self._start_first(order, overrides))
        session = Session(
            core, agent=self, remaining=remaining,
            auto_wait=overrides.get("auto_wait", self._auto_wait), traj_path=traj_path,
            on_event=self._session_watch(overrides), overrides=overrides,
        )  # fmt: skip
        session._write_traj_path()
        return session

    def resume_session(self, resume_handle: str, **overrides: Any) -> Session:  # type: ignore[override]
        """Continue a conversation from its handle, or, with a ``data_dir``, its bare session id
        (also a session caw 0.1.9 recorded: its resume key is read from its files)."""
        self._check_overrides(overrides)
        handle = resume_handle
        store = self._core.store
        if isinstance(handle, str) and store is not None and not looks_like_handle(handle):
            legacy = legacy_handle(store, handle.strip())
            if legacy is not None:
                handle = legacy.encode()
        core = self._make_core(self._selected, overrides)
        if self._fallback:
            core._pinned = False  # a handle names its own provider
        session = sync.run(core.resume_session(handle))
        return Session(
            session, agent=self, auto_wait=overrides.get("auto_wait", self._auto_wait),
            on_event=self._session_watch(overrides), overrides=overrides,
        )  # fmt: skip

    def completion(self, message: str, **overrides: Any) -> Trajectory:
        """One message in a fresh session; the ended session's trajectory."""
        traj_path = overrides.pop("traj_path", None)
        session = self.start_session(traj_path, **overrides)
        try:
            session.send(message)
        finally:
            trajectory = session.end()
        return trajectory

    def interactive(
        self,
        initial_prompt: str,
        capture_bytes: int = 0,
        *,
        select_provider: bool = False,
        **overrides: Any,
    ) -> InteractiveResult:
        """Run the provider's own terminal UI with ``initial_prompt``; the user takes over.

        caw does not capture the terminal (``capture_bytes`` is accepted and ignored), and
        ``select_provider`` is not offered: the agent's provider is launched."""
        cls = provider_class(self._selected)
        binary = cls.find_cli({**os.environ, **self._env}) or shutil.which(cls.cli)
        if binary is None:
            raise ProviderNotInstalled(f"the `{cls.cli}` CLI was not found: {cls.install_hint()}")
        args = {"opencode": [binary, "--prompt", initial_prompt]}.get(
            self._selected, [binary, initial_prompt]
        )
        cwd = self._core_options.get("cwd")
        done = subprocess.run(args, env={**os.environ, **self._env}, cwd=cwd, check=False)
        return InteractiveResult(exit_code=done.returncode)
