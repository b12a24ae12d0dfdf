"""What a provider adapter is.

A :class:`Provider` knows one CLI: where it is, how to start or resume a
conversation, what its resume keys look like. It may own a backend server
shared by its conversations (codex app-server, opencode serve). A
:class:`Conversation` is one live backend conversation: ``send`` runs a turn and
yields normalized :mod:`caw.events`; ``interrupt`` stops the running turn;
``close`` releases the backend. Adapters know nothing of the store, the handle
format or JSON-RPC.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import (
    BackendFailed,
    InvalidHandle,
    ModelError,
    ProviderNotInstalled,
    UsageLimitReached,
)
from ..events import Event
from ..model_catalog import ModelList
from ..permissions import PermissionBroker
from ..permissions import (
    PermissionMode as PermissionMode,  # re-exported: adapters import it from here
)
from ..tools.groups import ToolGroup
from ..tools.servers import MCPServer
from ..trust import untrusted_env

if TYPE_CHECKING:
    from .standby import Standby

log = logging.getLogger("caw.providers")

RawSink = Callable[[dict[str, Any]], None]
"""Receives every raw wire message of a turn, for ``turns/NNN_raw_output.jsonl``."""


UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


def check_option_values(**values: str | None) -> None:
    """Refuse an option value that a CLI could read as a flag of its own (issue 21, finding 5).

    ``model`` and ``reasoning`` reach some CLIs on argv (claude, ``codex exec``, ``opencode
    run``); the adapters join each value to its flag (``--model=VALUE``) as well, and this is
    the one check, for every CLI and mode: a value is a non-empty line that does not start
    with ``-``. (``reasoning="--auto"`` once turned permission_mode="deny" into bypass in
    opencode run, and ``model="--file=/path"`` sent a file to the model.)"""
    for name, value in values.items():
        if value is None:
            continue
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a string, not {type(value).__name__}")
        if not value.strip() or value.lstrip().startswith("-") or any(c in value for c in "\0\r\n"):
            raise ValueError(
                f"{name} {value[:80]!r} is not accepted: an option value must be a non-empty"
                " line that does not start with '-'"
            )


@dataclass
class ConversationOptions:
    """Everything a provider needs to start or resume a conversation."""

    session_id: str
    cwd: str
    model: str | None = None
    system_prompt: str | None = None
    reasoning: str | None = None
    # bypass: tools run without asking (headless use); deny: tools needing approval are refused;
    # ask: the CLI asks and ``permissions`` settles each question (rules, then the user).
    permission_mode: PermissionMode = "bypass"
    permissions: PermissionBroker | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    # The session's MCP servers (its own and its Python tools' server), in the CLI's config.
    mcp_servers: list[MCPServer] = field(default_factory=list)
    # The built-in tools allowed (caw.tools.groups); None: the CLI's own set.
    tools: ToolGroup | None = None
    # False: the folder's own agent configuration must not run (caw.trust); the CLI starts
    # with the project's configuration switched off.
    trusted: bool = True
    # While a turn runs: puts an event into its stream (a subagent's events, caw.tools).
    emit: Callable[[Any], None] | None = None
    # Called with each turn before it is recorded (subagent trajectories onto their blocks).
    on_turn: list[Callable[[Any], None]] = field(default_factory=list)
    # What ends with the session (its Python tools' server), called by AsyncSession.end.
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        check_option_values(model=self.model, reasoning=self.reasoning)

    async def release(self) -> None:
        """Stop what lives as long as the session (idempotent)."""
        while self.closers:
            await self.closers.pop()()

    def process_env(self) -> dict[str, str]:
        """The backend's environment: ours, overlaid with the Agent's ``env`` (and, in an
        untrusted folder, the switches that turn the project's configuration off)."""
        env = {**os.environ, **self.env}
        return env if self.trusted else untrusted_env(env)


class Conversation(ABC):
    """One live backend conversation."""

    #: The backend's own id for the conversation, once it has assigned one.
    resume_key: str | None = None

    @abstractmethod
    def send(self, text: str, raw: RawSink) -> AsyncIterator[Event]:
        """Run one turn: yield its events as they stream; return when it ends.

        Raises :class:`~caw.errors.BackendFailed` (or a subclass) when the turn
        fails. After :meth:`interrupt` the iterator ends promptly.
        """

    @abstractmethod
    async def interrupt(self) -> None:
        """Stop the running turn, keeping the conversation usable."""

    @abstractmethod
    async def close(self) -> None:
        """Release the backend (end the process, or detach from a shared one)."""

    @property
    def alive(self) -> bool:
        """False once the backend is gone; the core then resumes by ``resume_key``."""
        return True

    async def set_model(self, model: str) -> bool:
        """Switch the idle conversation to ``model`` for its next turn. False when the CLI
        cannot: the session then restarts it by resume with the new option."""
        return False


def cli_env_var_for(cli: str) -> str:
    return f"CAW_{cli.upper()}_BIN"


def find_command(cli: str, env: Mapping[str, str] | None = None) -> str | None:
    """Command ``cli``'s path: ``$CAW_<CLI>_BIN``, else the PATH of ``env`` (or ours)."""
    env = os.environ if env is None else env
    explicit = env.get(cli_env_var_for(cli))
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    return shutil.which(cli, path=env.get("PATH"))


class Provider(ABC):
    """One CLI. One instance per process (see :mod:`caw.providers`), shared by all sessions."""

    name: ClassVar[str]
    cli: ClassVar[str]
    npm_package: ClassVar[str]

    @classmethod
    def install_hint(cls) -> str:
        return f"install it with `npm install -g {cls.npm_package}` (or put `{cls.cli}` on PATH, or set {cls.cli_env_var()})"

    @classmethod
    def cli_env_var(cls) -> str:
        return cli_env_var_for(cls.cli)

    @classmethod
    def find_cli(cls, env: Mapping[str, str] | None = None) -> str | None:
        """The CLI's path: ``$CAW_<CLI>_BIN``, else the PATH of ``env`` (or ours)."""
        return find_command(cls.cli, env)

    @classmethod
    def require_cli(cls, env: Mapping[str, str] | None = None) -> str:
        path = cls.find_cli(env)
        if path is None:
            raise ProviderNotInstalled(
                f"the {cls.name} provider needs the `{cls.cli}` CLI, which was not found: {cls.install_hint()}"
            )
        return path

    @classmethod
    def check_resume_key(cls, key: str) -> str:
        """Raise InvalidHandle unless ``key`` has this backend's id shape."""
        return key

    @classmethod
    def _check_uuid_key(cls, key: str) -> str:
        if not UUID_RE.fullmatch(key):
            raise InvalidHandle(f"a {cls.name} resume key must be a UUID")
        return key

    @abstractmethod
    async def start(self, options: ConversationOptions) -> Conversation:
        """Begin a new backend conversation."""

    @abstractmethod
    async def resume(self, resume_key: str, options: ConversationOptions) -> Conversation:
        """Continue the backend conversation ``resume_key``; fail clearly if it does not exist."""

    async def list_models(self, options: ConversationOptions) -> ModelList:
        """The models (and reasoning levels) the CLI offers in ``options``' environment
        (an adapter that knows none: an empty list)."""
        return ModelList(provider=self.name, models=[], source="aliases")

    async def prestart(self, options: ConversationOptions) -> Standby | None:
        """Start ahead what ``start(options)`` will use (caw.providers.standby), or None when
        this provider has nothing worth starting ahead for these options."""
        return None

    async def aclose(self) -> None:  # noqa: B027 - optional: only providers with a shared server override it
        """End any backend server this provider shares between conversations."""


# What a translator raises when a line has a shape it does not expect (a string where an
# object was, a number for a text, a missing key): pydantic's ValidationError is a ValueError.
SHAPE_ERRORS: tuple[type[Exception], ...] = (
    AttributeError, KeyError, IndexError, TypeError, ValueError,
)  # fmt: skip


def _skipped(cli: str, exc: Exception) -> None:
    # Not the line: it may carry a resume key, or a secret a tool read.
    log.warning(
        "%s: skipped a line of an unexpected shape (%s: %.200s)", cli, type(exc).__name__, exc
    )


def tolerant(cli: str, translate: Callable[..., Iterable[Event]], *args: Any) -> list[Event]:
    """The events ``translate(*args)`` makes of one wire line, or none (with a warning) when
    the line has a shape the translator does not expect: an odd line is skipped, never fatal
    (issue 21, finding 2)."""
    try:
        return list(translate(*args))
    except SHAPE_ERRORS as exc:
        _skipped(cli, exc)
        return []


async def tolerant_async(cli: str, events: AsyncIterator[Event]) -> list[Event]:
    """:func:`tolerant` for a translator that awaits (answers permission questions)."""
    out: list[Event] = []
    try:
        async for event in events:
            out.append(event)
    except SHAPE_ERRORS as exc:
        _skipped(cli, exc)
        return []
    return out


def cli_version(
    path: str, env: Mapping[str, str] | None = None, timeout: float = 15.0
) -> str | None:
    """``<cli> --version``'s first line, or None if it cannot be run."""
    import subprocess

    try:
        out = subprocess.run(
            [path, "--version"],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=dict(env) if env else None,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else None


_USAGE_LIMIT = re.compile(
    r"usage[ _]limit|insufficient_quota|quota exceeded|credit balance is too low", re.I
)


def model_error(message: str) -> BackendFailed:
    """The right error for a failure the backend reported about the model API."""
    if _USAGE_LIMIT.search(message):
        return UsageLimitReached(f"usage limit reached: {message}")
    return ModelError(message)
