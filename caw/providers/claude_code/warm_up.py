"""Pre-paying the work claude does on the first line it reads, in a process started ahead.

Measured on claude 2.1.332 (``bench/claude_first_turn.py``; issue 20): a process's first
turn takes ~90 ms longer than its later ones with the model answering at once, all of it
CPU inside the CLI before the model request (``time_to_request_cpu_ms`` 90 ms vs 22 ms;
no subprocess in an empty folder, no connection but the model's). With
``BUN_JSC_dumpGeneratedBytecodes=1``, that first user line makes the JS engine evaluate
~1,400 ES modules and compile ~13,000 functions (the whole of start-up: ~2,200 functions,
235 modules; the second turn: ~300; the third: ~0). Any first stdin line does the module
part: after one read-only control request (``get_settings``) the first turn compiles only
~4,500 functions, the turn's own code, which no request short of a turn runs (none of
``get_status``, ``get_plan``, ``get_hooks_listing``, ``list_permission_rules``,
``get_memory_dialog``, ``get_skills_dialog`` lowered it). ``initialize`` loads the same
modules but also sets the session up as an SDK client's: not used.

Interleaved, ``bench/claude_first_turn.py --reps 16 --resume --warm-with get_settings``
(5 s after the start; load average 12): the first turn 167 -> 135 ms, a resumed process's
242 -> 185 ms, warm turns 73 ms; 1 s after the start, 296 -> 150 ms. The rest (about 2x a
warm turn) is the turn's own first run: compiling its code, building the system prompt
(~20 ms), the first message's attachments (~10 ms) and the tool schemas (~8 ms) once.

``get_settings`` only reads: the session's transcript, id and options are untouched, so a
process warmed with it is still exactly what a fresh start would run (same command line,
environment and working directory), only further along.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

from ..process import ChildProcess

log = logging.getLogger("caw.claude")


class WarmUp:
    """One ``get_settings`` control request sent to a claude process as soon as it starts,
    and the reading of its answer, until the conversation takes over the process's output."""

    def __init__(self, process: ChildProcess):
        self.request_id = f"caw-warm-up-{uuid.uuid4().hex[:12]}"
        self.answered = False
        self._task = asyncio.ensure_future(self._run(process))

    async def _run(self, process: ChildProcess) -> None:
        request = {"subtype": "get_settings"}
        try:
            await process.write_json(
                {"type": "control_request", "request_id": self.request_id, "request": request}
            )
            # Nothing else comes before the first user line.
            async for line in process.json_lines():
                response = line.get("response") or {}
                if (
                    line.get("type") == "control_response"
                    and response.get("request_id") == self.request_id
                ):
                    self.answered = True
                    return
        except Exception as exc:  # a process that broke here fails its first use, with the reason
            log.debug("claude's warm-up request went unanswered: %s", type(exc).__name__)

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
