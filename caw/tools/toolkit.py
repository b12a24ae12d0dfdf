"""Python tools: ``@tool`` functions and :class:`ToolKit` classes, served to the agent over MCP.

``@tool`` marks a plain function (passed with ``stateless_tools=``) or a ToolKit method. A
ToolKit instance is one MCP server (``server_name``); its ``self`` lives as long as the
session, so state carries from one call to the next. :class:`ToolServer` is what the
in-process host (:mod:`caw.tools.host`) serves: a name and its tools.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio.to_thread

from .servers import NAME_RE

F = TypeVar("F", bound=Callable[..., Any])

_MARK = "__caw_tool__"
STATELESS_SERVER = "tools"  # the one server of a session's stateless_tools


@dataclass(frozen=True)
class ToolSpec:
    """What ``@tool`` records on a function."""

    name: str
    description: str


def tool(description: str | None = None, *, name: str | None = None) -> Callable[[F], F]:
    """Mark a function (or a ToolKit method) as a tool the agent may call.

    ``description`` (default: the docstring) tells the model what it does; ``name`` (default:
    the function's) is the tool's name within its server. Parameters become the tool's input
    schema from their annotations; the return value is the tool's text result, and an
    exception reaches the model as a tool error with its message."""

    def mark(fn: F) -> F:
        tool_name = name or fn.__name__
        if not NAME_RE.fullmatch(tool_name):
            raise ValueError(f"tool name {tool_name!r} must be letters, digits, '_' or '-'")
        setattr(fn, _MARK, ToolSpec(tool_name, description or inspect.getdoc(fn) or tool_name))
        return fn

    return mark


def tool_spec(fn: Any) -> ToolSpec | None:
    spec = getattr(fn, _MARK, None)
    return spec if isinstance(spec, ToolSpec) else None


@dataclass
class ToolServer:
    """A named set of Python tools, served as one MCP server for a session."""

    name: str
    tools: list[tuple[ToolSpec, Callable[..., Any]]]
    display_name: str | None = None
    serialize: bool = False  # one call at a time (a ToolKit declared thread_safe=True)
    _lock: asyncio.Lock | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not NAME_RE.fullmatch(self.name):
            raise ValueError(f"tool server name {self.name!r} must be letters, digits, '_' or '-'")
        seen: set[str] = set()
        for spec, _ in self.tools:
            if spec.name in seen:
                raise ValueError(f"tool server {self.name!r} has two tools named {spec.name!r}")
            seen.add(spec.name)

    def callables(self) -> list[tuple[ToolSpec, Callable[..., Any]]]:
        """The tools as the MCP server registers them: an exception becomes a tool error
        carrying its message; serialized with a lock when the ToolKit asked for it."""
        tools = [(spec, _reporting(fn)) for spec, fn in self.tools]
        if not self.serialize:
            return tools
        return [(spec, self._serialized(fn)) for spec, fn in tools]

    def _serialized(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        async def call(**kwargs: Any) -> Any:
            if self._lock is None:
                self._lock = asyncio.Lock()
            async with self._lock:
                if inspect.iscoroutinefunction(fn):
                    return await fn(**kwargs)
                return await anyio.to_thread.run_sync(functools.partial(fn, **kwargs))

        return call


def _reporting(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` whose exceptions reach the model as ``ToolError("Type: message")`` (the SDK
    would otherwise answer only "Error executing tool NAME")."""
    from mcp.server.mcpserver.exceptions import ToolError  # mcp loads slowly: only with tools

    def error(exc: Exception) -> ToolError:
        return ToolError(f"{type(exc).__name__}: {exc}")

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def call_async(**kwargs: Any) -> Any:
            try:
                return await fn(**kwargs)
            except ToolError:
                raise
            except Exception as exc:
                raise error(exc) from exc

        return call_async

    @functools.wraps(fn)
    def call(**kwargs: Any) -> Any:
        try:
            return fn(**kwargs)
        except ToolError:
            raise
        except Exception as exc:
            raise error(exc) from exc

    return call


class ToolKit:
    """Subclass with ``@tool`` methods: one MCP server whose state (``self``) lasts the session.

    Class options: ``server_name`` (default: the class name in snake case), ``display_name``
    (for people), ``thread_safe=True`` to have caw run one call at a time."""

    server_name: str = ""
    display_name: str | None = None
    thread_safe: bool = False

    def __init_subclass__(
        cls,
        server_name: str | None = None,
        display_name: str | None = None,
        thread_safe: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        cls.server_name = server_name or _snake(cls.__name__)
        if not NAME_RE.fullmatch(cls.server_name):
            raise ValueError(f"server_name {cls.server_name!r} must be letters, digits, '_' or '-'")
        if display_name is not None:
            cls.display_name = display_name
        if thread_safe is not None:
            cls.thread_safe = thread_safe

    def as_server(self) -> ToolServer:
        tools = []
        for attr in dir(type(self)):
            spec = tool_spec(getattr(type(self), attr, None))
            if spec is not None:
                tools.append((spec, getattr(self, attr)))
        if not tools:
            raise ValueError(f"{type(self).__name__} has no @tool methods")
        return ToolServer(
            self.server_name or _snake(type(self).__name__),
            tools,
            display_name=self.display_name,
            serialize=self.thread_safe,
        )


def stateless_server(functions: Iterable[Callable[..., Any]]) -> ToolServer:
    """The one server of a session's ``stateless_tools``."""
    tools = []
    for fn in functions:
        spec = tool_spec(fn)
        if spec is None:
            raise ValueError(
                f"stateless_tools takes @tool functions; {getattr(fn, '__name__', fn)!r} is not one"
            )
        tools.append((spec, fn))
    return ToolServer(STATELESS_SERVER, tools)


def as_tool_server(item: ToolKit | ToolServer) -> ToolServer:
    if isinstance(item, ToolServer):
        return item
    if isinstance(item, ToolKit):
        return item.as_server()
    raise TypeError(f"tool_servers takes ToolKit instances, not {type(item).__name__}")


def _snake(name: str) -> str:
    out = "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
    return out or "toolkit"
