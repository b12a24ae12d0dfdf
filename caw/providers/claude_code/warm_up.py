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
  turn's ``system_prompt`` phase 8-16 -> 1 ms, ``tool_schema_build`` 5.5-7.5 -> 2 ms).
  ``summary`` answers from local estimates; the default, ``full``, asks the API's
  count_tokens once per category (25 requests): not used. It is answered ~40 ms after
  ``get_settings``.

Interleaved, ``bench/claude_first_turn.py --reps 16 --wait 3 --resume --warm-with
get_settings --warm-with get_settings,get_context_usage:detail=summary`` (load average
1.6), first turn after ``get_settings`` -> after both: user line -> result 92 -> 79 ms
(resumed: 98 -> 83), user line -> model request 62 -> 52 ms (66 -> 56), CPU meanwhile 67
-> 53 ms (72 -> 59), longest event-loop stall 10 -> 2 ms; with no warm-up 93 ms, warm
turns 64-67 ms. Under load the gain is larger: 84 -> 60 ms to the model request (12
reps, load 7.4). What is left (+38 ms to the model request) is spread over a score of
the turn's phases, 1-3 ms each, and the first message's attachments (the environment,
model, tool, agent and skill listings sent once per session: ~9 ms first, 2 ms later),
which even a local slash command's turn does not pre-pay.

Neither request writes anything: no model request and no count_tokens request reaches the
API, the transcript holds nothing before the first turn and after it the same rows as a
fresh process's, the first model request is the same (tests/e2e/test_claude_warm_up.py).
Tried on top of both and not used, none lowering the first turn further (to the model
request 56-74 ms against 57 ms, 10 reps, load 3.9): ``get_skills_dialog``,
``get_memory_dialog``, ``file_suggestions``, ``get_status``, ``list_models``,
``get_usage`` with ``mcp_status``; with ``get_settings`` alone, ``get_plan``,
``get_hooks_listing``, ``list_permission_rules``. Local slash commands sent as a user line
are answered without a model request (``/cost`` after ``get_settings``: 58 ms to the first
turn's model request; ``/context``: 47 ms) but write rows into the session's transcript
(queue operations, the command and its output), and ``/context`` asks count_tokens 25
times: not for a user's session. ``side_question`` is a model request.

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
