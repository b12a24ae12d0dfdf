"""The viewer's Starlette app: every route lives under ``/<token>/``; anything else is refused.

``/<token>/``              the session list (``?q=`` searches; ``?partial=1`` only the list)
``/<token>/s/<id>``        one session (``?partial=1`` only its body)
``/<token>/file?path=P``   a trajectory file by absolute path (caw 0.1.9's viewer did this)
``/<token>/events``        server-sent events: ``change`` with the ids of sessions written
``/<token>/static/...``    the page's CSS and JS, shipped in the package
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..store import Store
from . import render
from .formats import TrajectoryFormatError, TrajectoryView, load_view

STATIC = Path(__file__).with_name("static")
SECURITY_HEADERS = {
    # Nothing but our own files, no framing, no referrer carrying the token away.
    "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
}


class TokenGate:
    """Refuses (403) every request whose path does not start with ``/<token>/``."""

    def __init__(self, app: ASGIApp, token: str):
        self.app, self.prefix = app, f"/{token}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            head = path[: len(self.prefix)]
            ok = hmac.compare_digest(head.encode(), self.prefix.encode()) and (
                path == self.prefix or path[len(self.prefix)] == "/"
            )
            if not ok:
                response = PlainTextResponse(
                    "forbidden: open the viewer with the link (and token) it printed", 403
                )
                await response(scope, receive, send)
                return
            send = _with_headers(send)
        await self.app(scope, receive, send)


def _with_headers(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
            message = {**message, "headers": headers}
        await send(message)

    return wrapped


class Viewer:
    """The routes over one data dir."""

    def __init__(self, data_dir: Path, token: str):
        self.store = Store(data_dir)
        self.token = token
        #: Set on shutdown: ends every open event stream (made on the server's loop).
        self.stop_event: asyncio.Event | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def stop_streams(self) -> None:
        """From any thread: end the event streams so the server can stop at once."""
        if self.loop is not None and self.stop_event is not None:
            self.loop.call_soon_threadsafe(self.stop_event.set)

    def rows(self, query: str) -> list[tuple[TrajectoryView, datetime]]:
        words = query.lower().split()
        rows = []
        for sdir, _ in self.store.iter_trajectories():
            try:
                view = load_view(sdir.trajectory_path)
                when = datetime.fromtimestamp(sdir.trajectory_path.stat().st_mtime, timezone.utc)
            except (TrajectoryFormatError, OSError):
                continue
            if words:
                haystack = " ".join(
                    [view.title, view.session_id, view.cwd or "", view.agent]
                    + [t.input for t in view.turns] + [t.result for t in view.turns]
                ).lower()  # fmt: skip
                if not all(w in haystack for w in words):
                    continue
            rows.append((view, when))
        return rows

    async def index(self, request: Request) -> Response:
        query = request.query_params.get("q", "")
        rows = await anyio.to_thread.run_sync(self.rows, query)
        if request.query_params.get("partial"):
            return HTMLResponse(render.session_rows(rows, self.token))
        return HTMLResponse(render.list_page(rows, query, str(self.store.root), self.token))

    async def session(self, request: Request) -> Response:
        session_id = request.path_params["session_id"]
        try:
            sdir = self.store.session(session_id)
            view = await anyio.to_thread.run_sync(load_view, sdir.trajectory_path)
        except (TrajectoryFormatError, ValueError):
            return HTMLResponse(render.error_page(f"no session {session_id}", self.token), 404)
        if request.query_params.get("partial"):
            return HTMLResponse(render.session_body(view, self.token))
        return HTMLResponse(render.session_page(view, self.token, live=True))

    async def file(self, request: Request) -> Response:
        raw = request.query_params.get("path", "")
        path = Path(raw)
        if not raw or not path.is_absolute():
            return HTMLResponse(render.error_page("?path= needs an absolute path", self.token), 400)
        try:
            view = await anyio.to_thread.run_sync(load_view, path)
        except TrajectoryFormatError as exc:
            return HTMLResponse(render.error_page(str(exc), self.token), 404)
        if request.query_params.get("partial"):
            return HTMLResponse(render.session_body(view, self.token))
        return HTMLResponse(render.session_page(view, self.token, live=False))

    async def events(self, request: Request) -> Response:
        return StreamingResponse(self._changes(request), media_type="text/event-stream")

    async def _changes(self, request: Request) -> AsyncIterator[str]:
        from watchfiles import awatch

        self.store.ensure()  # watching needs the folder; it is created owner-only
        yield "retry: 1000\n\n"
        async for changes in awatch(
            self.store.sessions_dir, stop_event=self.stop_event, rust_timeout=1000,
            yield_on_timeout=True, debounce=200,
        ):  # fmt: skip
            if await request.is_disconnected():
                return
            ids = sorted(
                {
                    Path(path).relative_to(self.store.sessions_dir).parts[0]
                    for _, path in changes
                    if (
                        Path(path).is_relative_to(self.store.sessions_dir)
                        and Path(path).name in ("trajectory.json", "traj.jsonl")
                    )
                    or Path(path).parent == self.store.sessions_dir
                }
            )
            yield ": idle\n\n" if not ids else f"event: change\ndata: {json.dumps(ids)}\n\n"


def create_app(data_dir: Path, token: str, host: str = "127.0.0.1") -> Starlette:
    viewer = Viewer(data_dir, token)
    routes = [
        Mount(
            f"/{token}",
            routes=[
                Route("/", viewer.index),
                Route("/s/{session_id}", viewer.session),
                Route("/file", viewer.file),
                Route("/events", viewer.events),
                Mount("/static", StaticFiles(directory=STATIC), name="static"),
            ],
        )
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        viewer.stop_event, viewer.loop = asyncio.Event(), asyncio.get_running_loop()
        yield
        viewer.stop_event.set()

    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(TrustedHostMiddleware, allowed_hosts=[host, "127.0.0.1", "localhost"]),
            Middleware(TokenGate, token=token),
        ],
        lifespan=lifespan,
    )
    app.state.viewer = viewer
    return app
