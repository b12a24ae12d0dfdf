"""A scripted model server for the Anthropic Messages and OpenAI Responses APIs.

One HTTP server on 127.0.0.1 serves both APIs, so one instance serves claude,
codex and opencode at once::

    with ScriptedModelServer() as server:
        env = cli_environment("claude_code", server.base_url, tmp_path)
        ...
        assert server.requests[-1].user_texts()[-1] == "Where am I deploying?"

Routes (with or without the ``/v1`` prefix)
    ``POST /v1/messages``               Anthropic Messages, SSE when ``"stream": true``, else JSON
    ``POST /v1/messages/count_tokens``  ``{"input_tokens": N}``
    ``POST /v1/responses``              OpenAI Responses, SSE when ``"stream": true``, else JSON
    ``GET  /v1/models``                 a small model list (both APIs' shapes merged)
    anything else                       404 JSON (GET/POST/...) and logged

What is answered is decided by :mod:`caw.testing.script` (facts, questions,
directives such as ``[[slow:2]]`` or ``[[tool:bash:echo hi]]``).

Server-level knobs (thread-safe; they act on main-agent requests only, never
on the CLIs' side requests such as title generation):

* ``latency``: seconds to wait before the first token
* ``delta_delay``: seconds between two deltas of a stream
* ``fail_next(status, count=1)``, ``cut_next(count=1)``, ``hang_next(count=1)``
* ``retry_after``: seconds sent as ``retry-after-ms`` / ``retry-after`` on error
  answers (default None: no such header). The CLIs that retry honour it, so
  ``retry_after = 0`` makes opencode's fixed 5 retries instant.
* ``requests``: the :class:`RecordedRequest` log; ``main_requests()`` filters it
* ``reset()``: clears the knobs and the log (``clear()`` only clears the log)

Modules: :mod:`.server` (HTTP core, fault injection, request log),
:mod:`.anthropic` and :mod:`.openai_responses` (each API's events and errors),
:mod:`.api` (what an API module provides), :mod:`.cli` (the command line).

Command line (for benchmarks and other processes)::

    python -m caw.testing.model_server --port 0 [--latency S] [--delta-delay S]

prints ``http://127.0.0.1:PORT`` on one line and serves until killed.
"""

from .cli import main
from .server import RecordedRequest, ScriptedModelServer, StreamObserver

__all__ = ["RecordedRequest", "ScriptedModelServer", "StreamObserver", "main"]
