"""opencode: one shared ``opencode serve`` (HTTP + SSE), ``opencode run`` per turn as fallback.

The package has the shape of every adapter with two modes:

- ``__init__`` (here): the Provider: resume-key shape, which mode a conversation gets;
- ``serve``: the server mode: one serve per directory and environment, a session per conversation;
- ``run``: the per-turn mode: one ``opencode run --format json`` process per turn;
- ``translate``: opencode's wire -> caw events (both modes);
- ``options``: what opencode is given (ids, permission rules, reasoning variants, settings).

When serve cannot start (or with ``CAW_OPENCODE_MODE=run``) conversations get the
per-turn mode; serve is tried again after ``SERVE_RETRY`` seconds.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Mapping
from typing import Any

from ...errors import BackendFailed, InvalidHandle
from ...model_catalog import ModelList, opencode_models
from ...redact import hide_key
from ...tools.groups import opencode_denials
from ...tools.wiring import opencode_env
from ..base import Conversation, ConversationOptions, Provider
from ..pool import ServerPool
from ..standby import ServerStandby, Standby, take_standby
from .options import (
    KEY_RE,
    MODE_ENV,
    START_TIMEOUT_ENV,
    UNTITLED,
    float_env,
    permission_rules,
)
from .run import RunConversation
from .serve import (
    START_TIMEOUT,
    ServeConversation,
    ServeProcess,
    first_prompt_choice,
    resolve_model,
)

log = logging.getLogger("caw.opencode")

SERVE_RETRY = 300.0  # after serve failed to start, use run for this long before trying serve again


class OpenCodeSessionStandby(ServerStandby):
    """A session created ahead on the serve a session with these options will share (a use
    of it held, so that serve outlives the last session); deleted again if nobody takes it."""

    def __init__(self, provider: OpenCodeProvider, session_id: str, serve: ServeProcess,
                 session: str, model: dict[str, str] | None, variant: str | None,
                 started: tuple[Any, ...]):  # fmt: skip
        super().__init__(
            session_id, serve, started, provider._standby, lambda: provider._pool.release(serve)
        )
        self.serve, self.session, self.model, self.variant = serve, session, model, variant

    async def _forget(self) -> None:
        if self.serve.alive:  # an unused session would stay in opencode's session list
            with contextlib.suppress(BackendFailed):
                await self.serve.request(
                    "DELETE", f"/session/{self.session}", "DELETE /session/{id}"
                )


class OpenCodeProvider(Provider):
    name = "opencode"
    cli = "opencode"
    npm_package = "opencode-ai"

    def __init__(self) -> None:
        self._pool: ServerPool[ServeProcess] = ServerPool((BackendFailed,), SERVE_RETRY)
        self._standby: dict[str, OpenCodeSessionStandby] = {}

    @classmethod
    def check_resume_key(cls, key: str) -> str:
        if not isinstance(key, str) or not KEY_RE.fullmatch(key):
            raise InvalidHandle(
                "an opencode resume key is an opencode session id: 'ses_' followed by letters and digits"
            )
        return key

    @staticmethod
    def _mode(env: Mapping[str, str]) -> str:
        mode = (env.get(MODE_ENV) or "auto").strip().lower()
        if mode not in ("auto", "serve", "run"):
            raise ValueError(f"{MODE_ENV} must be auto, serve or run, not {mode!r}")
        return mode

    @staticmethod
    def _key(cli: str, options: ConversationOptions, env: Mapping[str, str]) -> tuple[Any, ...]:
        # Everything the serve process inherits decides which conversations may share it
        # (tests run private HOMEs side by side in one process).
        return (cli, os.path.realpath(options.cwd), tuple(sorted(env.items())))

    async def _serve(
        self, cli: str, options: ConversationOptions, env: Mapping[str, str], mode: str
    ) -> ServeProcess | None:
        """A running serve for these options (a use counted), or None to fall back to run."""
        timeout = float_env(env, START_TIMEOUT_ENV, START_TIMEOUT)
        try:
            return await self._pool.acquire(
                self._key(cli, options, env),
                lambda: ServeProcess.launch(cli, options.cwd, env, timeout),
                fall_back=mode == "auto",
            )
        except BackendFailed as exc:
            if mode == "serve":
                raise
            log.warning(
                "opencode serve could not start, using `opencode run` per turn instead: %s", exc
            )
            return None

    async def _serve_conversation(
        self, options: ConversationOptions, resume_key: str | None
    ) -> Conversation | None:
        # The session's MCP servers are part of its serve's environment: no other session's
        # serve (a pool key of its own) ever lists them.
        env = opencode_env(options.process_env(), options.mcp_servers)
        cli = self.require_cli(env)
        mode = self._mode(env)
        if mode == "run":
            return None
        serve = await self._serve(cli, options, env, mode)
        if serve is None:
            return None
        try:
            if resume_key is None:
                session, model, variant = await self._new_session(serve, options)
            else:
                model, variant = await resolve_model(serve, options)
                rules = self._rules(options)
                response = await serve.request("GET", f"/session/{resume_key}", "GET /session/{id}")
                if response.status_code == 404:
                    raise BackendFailed(
                        "opencode has no session with this resume key: it was not found (deleted, or made under another HOME?)"
                    )
                if response.status_code >= 400:
                    raise serve.http_error(response, "GET /session/{id}")
                # The session keeps the rules it was made with; this session's policy replaces them.
                await serve.json(
                    "PATCH",
                    f"/session/{resume_key}",
                    "PATCH /session/{id}",
                    json={"permission": rules},
                )
                session = resume_key
        except BaseException:
            await self._pool.release(serve)
            raise
        return ServeConversation(
            self._pool, serve, session, options, model, variant, untitled=resume_key is None
        )

    @staticmethod
    def _rules(options: ConversationOptions) -> list[dict[str, Any]]:
        rules = permission_rules(options.permission_mode)
        if options.tools is not None:  # last, so they win (caw.tools.groups)
            rules = [*rules, *opencode_denials(options.tools)]
        return rules

    async def _new_session(
        self, serve: ServeProcess, options: ConversationOptions
    ) -> tuple[str, dict[str, str] | None, str | None]:
        """A new opencode session with these options' rules: its id, model and variant."""
        model, variant = await resolve_model(serve, options)
        # titled: opencode makes no title request (UNTITLED); its agent and model recorded
        # now, not by its first prompt (first_prompt_choice)
        body = {"permission": self._rules(options), "title": UNTITLED,
                **await first_prompt_choice(serve, model, variant)}  # fmt: skip
        created = await serve.json("POST", "/session", "POST /session", json=body)
        return str(created["id"]), model, variant

    def _started(
        self, cli: str, options: ConversationOptions, env: Mapping[str, str]
    ) -> tuple[Any, ...]:
        """What decides a new session: its serve and everything its creation sends."""
        rules = json.dumps(self._rules(options), sort_keys=True)
        return (self._key(cli, options, env), rules, options.model, options.reasoning)

    async def prestart(self, options: ConversationOptions) -> Standby | None:
        """A session created ahead on the serve a session with these options will share (a
        use of serve held: it keeps running while the daemon lives, not only while a session
        does; its start takes seconds). ``start`` with the same session id and the same
        settings takes it: its first send no longer waits for the session's creation."""
        env = opencode_env(options.process_env(), options.mcp_servers)
        cli = self.require_cli(env)
        mode = self._mode(env)
        serve = await self._serve(cli, options, env, mode) if mode != "run" else None
        if serve is None:
            return None
        try:
            session, model, variant = await self._new_session(serve, options)
        except BaseException:
            await self._pool.release(serve)
            raise
        standby = OpenCodeSessionStandby(
            self,
            options.session_id,
            serve,
            session,
            model,
            variant,
            self._started(cli, options, env),
        )
        self._standby[options.session_id] = standby
        return standby

    async def _adopt(self, options: ConversationOptions) -> Conversation | None:
        """The session created ahead for ``options.session_id``, if a fresh start would
        create exactly that one now (else it is let go)."""

        def started_now() -> tuple[Any, ...]:
            env = opencode_env(options.process_env(), options.mcp_servers)
            return self._started(self.require_cli(env), options, env)

        standby = await take_standby(self._standby, options.session_id, started_now)
        if standby is None:
            return None
        return ServeConversation(self._pool, standby.serve, standby.session, options,
                                 standby.model, standby.variant, untitled=True)  # fmt: skip

    async def start(self, options: ConversationOptions) -> Conversation:
        conversation = await self._adopt(options) or await self._serve_conversation(options, None)
        if conversation is None:
            conversation = RunConversation(self.require_cli(options.process_env()), options, None)
        return conversation

    async def resume(self, resume_key: str, options: ConversationOptions) -> Conversation:
        self.check_resume_key(resume_key)
        hide_key(resume_key, options.session_id)  # errors below may quote it
        conversation = await self._serve_conversation(options, resume_key)
        if conversation is None:
            conversation = RunConversation(
                self.require_cli(options.process_env()), options, resume_key
            )
        return conversation

    async def list_models(self, options: ConversationOptions) -> ModelList:
        """serve's configured providers and their models (``providerID/modelID``)."""
        env = opencode_env(options.process_env(), options.mcp_servers)
        serve = await self._serve(self.require_cli(env), options, env, "serve")
        assert serve is not None  # mode serve: a failure raises
        try:
            providers = await serve.providers()
            default = (await serve.config()).get("model")
        finally:
            await self._pool.release(serve)
        return opencode_models(providers, default if isinstance(default, str) else None)

    async def aclose(self) -> None:
        for standby in list(self._standby.values()):
            await standby.discard()
        await self._pool.aclose()


__all__ = ["OpenCodeProvider", "OpenCodeSessionStandby", "RunConversation", "ServeConversation"]
