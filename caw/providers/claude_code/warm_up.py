"""Pre-paying the work claude does on the first line it reads, in a process started ahead.

Measured on claude 2.1.332 (``bench/claude_first_turn.py``; issue 20): a process's first
turn takes ~90 ms longer than its later ones with the model answering at once, all of it
CPU inside the CLI before the model request (``time_to_request_cpu_ms`` 90 ms vs 22 ms;
no subprocess in an empty folder, no connection but the model's). With
``BUN_JSC_dumpGeneratedBytecodes=1``, that first user line makes the JS engine evaluate
~1,400 ES modules and compile ~13,000 functions (the whole of start-up: ~2,200 functions,
235 modules; the second turn: ~300; the third: ~0).

Two read-only control requests, one after the other, pre-pay most of it:

- ``get_settings``: any first stdin line loads those modules; after it the first turn
  compiles ~4,500 functions, the turn's own code. (``initialize`` loads the same modules
  but also sets the session up as an SDK client's: not used.)
- ``get_context_usage`` with ``detail: "summary"``: claude counts what the next request
  would hold, so it builds the system prompt and the tool schemas as a turn does (the
  turn's ``system_prompt`` phase 40 -> 1 ms, ``tool_schema_build`` 29.5 -> 2-3 ms, at load
  6). ``summary`` answers from local estimates; the default, ``full``, would ask the API's
  count_tokens once per category (25 requests): not used.

Interleaved, ``bench/claude_first_turn.py --reps 10 --wait 3 --warm-with get_settings
--warm-with get_settings,get_context_usage:detail=summary`` (load average 6.4): the first
turn, user line -> result, 374 ms with no warm-up, 369 ms after ``get_settings``, 173 ms
after both (user line -> model request 246, 254, 112 ms; warm turns 68-75 ms). What is
left is chiefly the first message's attachments (~15 ms) and the rest of the turn's code
running once.

Neither request writes anything: no model request and no count_tokens request reaches the
API, the transcript holds nothing before the first turn and after it the same rows as a
fresh process's, the first model request is the same (tests/e2e/test_claude_warm_up.py).
Tried and not used: ``get_status``, ``get_plan``, ``get_hooks_listing``,
``list_permission_rules``, ``get_memory_dialog``, ``get_skills_dialog``, ``mcp_status``,
``get_usage`` (answered, pre-pay nothing measurable); local slash commands sent as a
user line (``/context``, ``/cost``, ``/status``, ``/usage``: claude answers them without
a model request, but writes them into the session's transcript, and ``/context`` asks
count_tokens); ``side_question`` (a model request).

So a process warmed this way is still exactly what a fresh start would run (same command
line, environment, working directory and session), only further along.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

from ..process import ChildProcess

log = logging.getLogger("caw.claude")


# Sent in this order, each once the one before is answered (the first loads the modules
# the second then runs).
REQUESTS: tuple[dict[str, str], ...] = (
    {"subtype": "get_settings"},
    {"subtype": "get_context_usage", "detail": "summary"},
)


class WarmUp:
    """The warm-up control requests sent to a claude process as soon as it starts, and the
    reading of their answers, until the conversation takes over the process's output."""

    def __init__(self, process: ChildProcess):
        self.answers: list[dict[str, Any]] = []  # each request's response, in order
        self.answered = False  # every request was answered
        self._task = asyncio.ensure_future(self._run(process))

    async def _run(self, process: ChildProcess) -> None:
        try:
            lines = process.json_lines()
            for request in REQUESTS:
                request_id = f"caw-warm-up-{uuid.uuid4().hex[:12]}"
                await process.write_json(
                    {"type": "control_request", "request_id": request_id, "request": request}
                )
                # Nothing else comes before the first user line.
                async for line in lines:
                    response = line.get("response") or {}
                    if (
                        line.get("type") == "control_response"
                        and response.get("request_id") == request_id
                    ):
                        self.answers.append(response)
                        break
                else:
                    return  # claude's output ended
            self.answered = True
        except Exception as exc:  # a process that broke here fails its first use, with the reason
            log.debug("claude's warm-up requests went unanswered: %s", type(exc).__name__)

    async def wait(self, timeout: float) -> bool:
        """Whether claude answered within ``timeout`` seconds (tests and benchmarks)."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        return self.answered

    async def settle(self) -> None:
        """Stop reading claude's output, so that the conversation can: an answer still to
        come is then read by the conversation, which skips it (it reads no control response
        it did not ask for). Cancelling a read leaves unread output in the stream."""
        if not self._task.done():
            self._task.cancel()
        await asyncio.wait([self._task])  # never raises: the caller's own cancel propagates
