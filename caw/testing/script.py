"""The deterministic responder behind :mod:`caw.testing.model_server`.

The scripted model answers from the conversation history it receives, so a
resumed conversation can be told apart from a fresh one.  Both wire formats
(Anthropic Messages and OpenAI Responses) are first normalized into a list of
:class:`Message` objects; :func:`plan_reply` then decides what to answer.

What counts as user text
    Only ``text`` / ``input_text`` content of user messages.  System prompts,
    tool results, images and every block wrapped in a CLI-injected tag
    (``<system-reminder>...</system-reminder>``, ``<environment_context>``,
    ``<user_instructions>``, ``<command-name>`` ... any ``<lower-case-tag>...
    </lower-case-tag>`` pair) are ignored, as are lines codex injects such as
    ``# AGENTS.md instructions for ...``.  One pair of double quotes around the
    whole text is removed too (``opencode run "a b"`` sends ``"a b"``).  The
    "latest user message" is the last user message that still has text after
    this cleaning.

The rules, applied to the latest user message (directives stripped first)
    * ``Repeat after me: X``      -> ``X``
    * ``How many messages ...?``  -> the number of user messages so far
    * ``My <key> is <value>.``    -> records a fact (in any user message of the
      history; trailing sentences like "Remember that." / "Acknowledge it." are
      fine) and answers ``Noted: <key> is <value>.``
    * a question (ends with ``?``) -> the value of the known fact whose key
      words best overlap the question's words (compared by crude stems, so
      "deploying" matches "deploy target"); the latest fact wins ties.  No
      overlap -> ``I don't know.``
    * anything else               -> ``You said: <text>``
    * when the conversation ends with a tool result (the model asked for a
      tool in the previous step) -> ``Tool said: <first line of the output>``
      (codex's ``Chunk ID: ... Output:`` wrapper removed)

Directives (only honoured in the latest user message of a main-agent request;
stripped from the text before the rules above run)
    * ``[[slow:SECONDS]]``   stream the answer in many small deltas spread over SECONDS
    * ``[[tool:bash:CMD]]``  first answer with a call of the CLI's shell tool running CMD
      (the first offered tool named Bash/bash/shell/exec_command/shell_command/
      local_shell; arguments built from its schema: claude ``Bash {"command"}``,
      codex ``exec_command {"cmd"}``, opencode ``bash {"command"}``).  Ignored
      when the request offers no shell tool.
    * ``[[tool:write:PATH:CONTENT]]``  first answer with a call of the CLI's file-writing tool
      creating PATH with the line CONTENT (claude ``Write``, opencode ``write``; codex's shell
      tool running ``apply_patch``, which codex turns into a file change)
    * ``[[call:NAME:ARGS]]``  first answer with a call of the offered tool NAME (exactly as the
      request names it) with the JSON object ARGS (default ``{}``; no ``]`` inside)
    * ``[[mcp:SERVER:TOOL:ARGS]]``  first answer with a call of MCP server SERVER's tool TOOL,
      named the CLI's way: claude ``mcp__SERVER__TOOL`` (when claude defers it behind
      ``ToolSearch``, first a ``ToolSearch`` for it, then the call), codex a function TOOL in the
      namespace tool ``mcp__SERVER``, opencode ``SERVER_TOOL``.  Ignored when not offered.
    * ``[[fail:STATUS]]``    answer HTTP STATUS with the API's error body (429, 500, 529, ...)
    * ``[[usage-limit]]``    answer 429 with the API's "usage limit reached" error
    * ``[[cut]]``            start streaming, then drop the connection mid-stream
    * ``[[hang]]``           accept the request and never answer (until the server stops
      or the client goes away)
    * ``[[think]]``          put a thinking block / reasoning item before the answer

Side requests
    The CLIs also send helper requests (title generation, summaries, quota
    probes with ``max_tokens=1`` ...).  :func:`classify` tells them apart from
    the agent's own turns (a side request offers no tools and opens with a
    title/summary/topic task, or asks for one token); they get a short
    deterministic answer (the first five words of the latest user text) and
    never act on directives or knobs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "SHELL_TOOL_NAMES",
    "Directives",
    "Message",
    "Reply",
    "ToolCall",
    "answer_for",
    "classify",
    "clean_user_text",
    "extract_facts",
    "normalize_anthropic",
    "normalize_openai",
    "parse_directives",
    "plan_reply",
]

# --------------------------------------------------------------------------- messages


@dataclass
class Message:
    """One conversation message, API-neutral."""

    role: str  # "user" | "assistant" | "system"
    texts: list[str] = field(default_factory=list)  # raw text blocks, uncleaned
    tool_results: list[str] = field(default_factory=list)  # outputs of tool calls
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # assistant tool calls

    @property
    def user_text(self) -> str:
        """The actual user text: injected blocks removed, the last non-empty block."""
        cleaned = [clean_user_text(t) for t in self.texts]
        cleaned = [c for c in cleaned if c]
        return cleaned[-1] if cleaned else ""


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any]
    kind: str = "function"  # openai: "function" | "local_shell"; anthropic: "tool_use"
    namespace: str | None = None  # openai: the namespace tool the function belongs to (codex MCP)


@dataclass
class Reply:
    """What the server should do for one request."""

    text: str = ""
    thinking: str | None = None
    tool_call: ToolCall | None = None
    fail_status: int | None = None
    fail_kind: Literal["error", "usage_limit"] = "error"
    cut: bool = False
    hang: bool = False
    slow: float | None = None  # seconds over which to spread the deltas
    # Called before the last delta is sent; the stream waits for it to return. A test holds the
    # answer's end until the client has seen it stream (a time spread alone is outrun by a stall).
    hold: Callable[[], object] | None = None


# --------------------------------------------------------------------------- cleaning

_TAG_BLOCK = re.compile(r"<([a-z][a-z0-9_-]*)(?:\s[^>]*)?>.*?</\1>", re.DOTALL)
_INJECTED_PREFIXES = (
    "# AGENTS.md instructions",
    "<environment_context>",
    "<user_instructions>",
    "<permissions instructions>",
    "Caveat: The messages below were generated by the user while running local commands",
)
_TOOL_LOADED = "Tool loaded."  # claude's text beside a ToolSearch result (tool_reference blocks)
_DIRECTIVE = re.compile(r"\[\[([a-z-]+)(?::([^\]]*))?\]\]")


def clean_user_text(text: str) -> str:
    """Strip CLI-injected blocks from one user text block; '' when nothing is left."""
    if not isinstance(text, str):
        return ""
    stripped = text.strip()
    if stripped == _TOOL_LOADED:
        return ""
    for prefix in _INJECTED_PREFIXES:
        if stripped.startswith(prefix):
            return ""
    previous = None
    while previous != stripped:  # nested tags: strip until stable
        previous = stripped
        stripped = _TAG_BLOCK.sub("", stripped).strip()
    # `opencode run "a b"` sends the prompt wrapped in double quotes.
    if len(stripped) >= 2 and stripped[0] == stripped[-1] == '"' and '"' not in stripped[1:-1]:
        stripped = stripped[1:-1].strip()
    return stripped


@dataclass
class Directives:
    slow: float | None = None
    tool_command: str | None = None
    tool_kind: str = "bash"
    fail: int | None = None
    usage_limit: bool = False
    cut: bool = False
    hang: bool = False
    think: bool = False


def parse_directives(text: str) -> tuple[Directives, str]:
    """Return the directives found in ``text`` and the text without them."""
    d = Directives()
    for m in _DIRECTIVE.finditer(text):
        name, arg = m.group(1), m.group(2)
        if name == "slow":
            try:
                d.slow = max(0.0, float(arg or "1"))
            except ValueError:
                d.slow = 1.0
        elif name == "tool":
            kind, _, command = (arg or "").partition(":")
            d.tool_kind = kind or "bash"
            d.tool_command = command if command else "true"
        elif name in ("call", "mcp"):
            d.tool_kind = name
            d.tool_command = arg or ""
        elif name == "fail":
            try:
                d.fail = int(arg or "500")
            except ValueError:
                d.fail = 500
        elif name == "usage-limit":
            d.usage_limit = True
        elif name == "cut":
            d.cut = True
        elif name == "hang":
            d.hang = True
        elif name == "think":
            d.think = True
    rest = _DIRECTIVE.sub("", text)
    rest = re.sub(r"[ \t]{2,}", " ", rest).strip()
    return d, rest


# --------------------------------------------------------------------------- normalizing


def _text_of(content: Any) -> str:
    """Flatten tool-result content (str, list of blocks, dict) into text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(_text_of(c) for c in content if c is not None)
    if isinstance(content, dict):
        for key in ("text", "output", "content"):
            if key in content:
                return _text_of(content[key])
        return ""
    return str(content)


def normalize_anthropic(body: dict[str, Any]) -> list[Message]:
    out: list[Message] = []
    for msg in body.get("messages") or []:
        if not isinstance(msg, dict):
            continue
        m = Message(role=str(msg.get("role", "user")))
        content = msg.get("content")
        if isinstance(content, str):
            m.texts.append(content)
        elif isinstance(content, list):
            for block in content:
                if not isinstance(block, dict):
                    continue
                t = block.get("type")
                if t == "text":
                    m.texts.append(str(block.get("text", "")))
                elif t == "tool_result":
                    m.tool_results.append(_text_of(block.get("content")))
                elif t in ("tool_use", "server_tool_use"):
                    m.tool_calls.append({"name": block.get("name"), "input": block.get("input")})
        out.append(m)
    return out


def normalize_openai(body: dict[str, Any]) -> list[Message]:
    """Normalize a Responses API ``input`` (plus chat-style ``messages`` as a fallback)."""
    items = body.get("input")
    if items is None:
        items = body.get("messages") or []
    if isinstance(items, str):
        return [Message(role="user", texts=[items])]
    out: list[Message] = []

    def current(role: str) -> Message:
        if not out or out[-1].role != role:
            out.append(Message(role=role))
        return out[-1]

    for item in items:
        if not isinstance(item, dict):
            continue
        t = item.get("type")
        role = item.get("role")
        if t in (None, "message") and role:
            role = "system" if role in ("system", "developer") else role
            m = Message(role=role)
            content = item.get("content")
            if isinstance(content, str):
                m.texts.append(content)
            elif isinstance(content, list):
                for part in content:
                    if isinstance(part, dict) and part.get("type") in (
                        "input_text",
                        "output_text",
                        "text",
                    ):
                        m.texts.append(str(part.get("text", "")))
            out.append(m)
        elif t in ("function_call", "local_shell_call", "custom_tool_call"):
            current("assistant").tool_calls.append(
                {"name": item.get("name", t), "input": item.get("arguments") or item.get("action")}
            )
        elif t in ("function_call_output", "local_shell_call_output", "custom_tool_call_output"):
            current("user").tool_results.append(_text_of(item.get("output")))
        elif role == "tool":  # chat-completions style
            current("user").tool_results.append(_text_of(item.get("content")))
    return out


# --------------------------------------------------------------------------- side requests

_SIDE_HINT = re.compile(r"\b(title|summar\w*|topic|quota|compact\w*)\b", re.IGNORECASE)
_BILLING_LINE = re.compile(r"^x-anthropic-billing-header:[^\n]*\n?")  # claude's first system block


def classify(api: str, body: dict[str, Any], system: str) -> str:
    """'main' for the agent's own turns, 'side' for helper requests.

    Side requests are those asking for at most one token (quota probes), and
    those offering no tools whose system prompt or first user text opens with
    a helper task (a title, a summary, a topic: e.g. opencode's "You are a
    title generator" + "Generate a title for this conversation:").  Every
    other request is a main one, including a CLI run without tools
    (``claude --tools ""``).
    """
    max_tokens = body.get("max_tokens", body.get("max_output_tokens"))
    if isinstance(max_tokens, int) and max_tokens <= 1:
        return "side"
    if body.get("tools"):
        return "main"
    head = _BILLING_LINE.sub("", system.lstrip())[:300]
    messages = normalize_anthropic(body) if api == "anthropic" else normalize_openai(body)
    first_user = next((m for m in messages if m.role == "user" and m.texts), None)
    first_text = first_user.texts[0][:200] if first_user else ""
    if _SIDE_HINT.search(head) or _SIDE_HINT.search(first_text):
        return "side"
    return "main"


# --------------------------------------------------------------------------- facts & answers

_STOP = {
    "a",
    "an",
    "the",
    "my",
    "me",
    "i",
    "am",
    "is",
    "are",
    "was",
    "what",
    "where",
    "which",
    "who",
    "whom",
    "when",
    "how",
    "why",
    "do",
    "does",
    "did",
    "you",
    "your",
    "and",
    "or",
    "again",
    "of",
    "to",
    "in",
    "on",
    "at",
    "for",
    "it",
    "that",
    "this",
    "tell",
    "please",
    "remember",
    "know",
    "so",
    "now",
    "then",
    "be",
    "we",
    "our",
    "us",
    "can",
    "could",
    "would",
    "will",
    "with",
    "about",
}
_FACT = re.compile(
    r"\bmy\s+([a-z][\w \-']*?)\s+(?:is|are)\s+(.+?)(?:\.(?=\s|$)|!|$)", re.IGNORECASE
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _stem(word: str) -> str:
    w = word.lower()
    for suffix in ("ments", "ment", "ings", "ing", "ers", "er", "ies", "es", "ed", "s"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)]
            break
    return w


def _stems(text: str) -> set[str]:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {_stem(w) for w in words if w not in _STOP}


def extract_facts(text: str) -> list[tuple[str, str]]:
    """``"My deploy target is staging-eu. Remember that."`` -> ``[("deploy target", "staging-eu")]``."""
    facts = []
    for sentence in _SENTENCE.split(text.strip()):
        if sentence.rstrip().endswith("?"):
            continue
        for m in _FACT.finditer(sentence):
            key = m.group(1).strip().lower()
            value = m.group(2).strip().rstrip(".").strip()
            if key and value:
                facts.append((key, value))
    return facts


def answer_for(text: str, history: list[str]) -> str:
    """The answer to user ``text`` given the earlier user texts ``history`` (cleaned, no directives)."""
    text = text.strip()
    m = re.match(r"^\s*repeat after me:\s*(.*)$", text, re.IGNORECASE | re.DOTALL)
    if m:
        return m.group(1).strip()
    if re.match(r"^\s*how many messages", text, re.IGNORECASE):
        return str(len(history) + 1)
    own = extract_facts(text)
    if own:
        return " ".join(f"Noted: {k} is {v}." for k, v in own)
    if text.endswith("?"):
        facts: list[tuple[str, str]] = []
        for earlier in history:
            facts.extend(extract_facts(earlier))
        q = _stems(text)
        best: tuple[int, int, str] | None = None
        for index, (key, value) in enumerate(facts):
            score = len(_stems(key) & q)
            if score and (best is None or (score, index) >= best[:2]):
                best = (score, index, value)
        return best[2] if best else "I don't know."
    return f"You said: {text}" if text else "You said nothing."


SHELL_TOOL_NAMES = ("bash", "shell", "exec_command", "shell_command", "local_shell", "run_command")


def _find_shell_tool(tools: list[dict[str, Any]]) -> dict[str, Any] | None:
    by_name: dict[str, dict[str, Any]] = {}
    for tool in tools or []:
        if not isinstance(tool, dict):
            continue
        if tool.get("type") == "local_shell":
            by_name.setdefault("local_shell", tool)
            continue
        name = tool.get("name") or (tool.get("function") or {}).get("name")
        if isinstance(name, str):
            by_name.setdefault(name.lower(), tool)
    for candidate in SHELL_TOOL_NAMES:
        if candidate in by_name:
            return by_name[candidate]
    return None


def _shell_arguments(tool: dict[str, Any], command: str) -> dict[str, Any]:
    schema = (
        tool.get("input_schema")
        or tool.get("parameters")
        or (tool.get("function") or {}).get("parameters")
        or {}
    )
    props: dict[str, Any] = schema.get("properties") or {}
    required: list[str] = list(schema.get("required") or [])
    args: dict[str, Any] = {}
    for key in ("command", "cmd"):
        if key in props:
            if (props[key] or {}).get("type") == "array":
                args[key] = ["bash", "-lc", command]
            else:
                args[key] = command
            break
    else:
        args["command"] = command
    for key in required:
        if key in args:
            continue
        spec = props.get(key) or {}
        typ = spec.get("type")
        if key == "description" or typ == "string":
            args[key] = "Run a shell command"
        elif typ in ("integer", "number"):
            args[key] = 10000
        elif typ == "boolean":
            args[key] = False
        elif typ == "array":
            args[key] = []
        elif typ == "object":
            args[key] = {}
    return args


def _tool_call_for(body: dict[str, Any], command: str) -> ToolCall | None:
    tool = _find_shell_tool(body.get("tools") or [])
    if tool is None:
        return None
    if tool.get("type") == "local_shell":
        return ToolCall(
            name="local_shell",
            arguments={"type": "exec", "command": ["bash", "-lc", command]},
            kind="local_shell",
        )
    name = str(tool.get("name") or (tool.get("function") or {}).get("name") or "")
    return ToolCall(name=name, arguments=_shell_arguments(tool, command))


WRITE_TOOL_NAMES = ("write", "create_file", "write_file")


def _write_call_for(body: dict[str, Any], spec: str) -> ToolCall | None:
    """``PATH:CONTENT``: the CLI's file-writing tool creating PATH with the line CONTENT.

    claude ``Write {file_path, content}``, opencode ``write {filePath, content}``; codex offers
    no such function tool, so its shell tool runs ``apply_patch``, which codex turns into a
    ``fileChange`` (observed with codex-cli 0.169.0).
    """
    path, _, content = spec.partition(":")
    for tool in body.get("tools") or []:
        if not isinstance(tool, dict):
            continue
        name = tool.get("name") or (tool.get("function") or {}).get("name")
        if not isinstance(name, str) or name.lower() not in WRITE_TOOL_NAMES:
            continue
        schema = tool.get("input_schema") or tool.get("parameters") or {}
        props = schema.get("properties") or {}
        key = next((k for k in ("file_path", "filePath", "path") if k in props), "file_path")
        return ToolCall(name=name, arguments={key: path, "content": content + "\n"})
    patch = f"*** Begin Patch\n*** Add File: {path}\n+{content}\n*** End Patch"
    return _tool_call_for(body, f"apply_patch <<'EOF'\n{patch}\nEOF")


TOOL_SEARCH = "ToolSearch"  # claude's tool that loads deferred (MCP) tools


def _last_call_name(messages: list[Message]) -> str | None:
    for message in reversed(messages):
        if message.role == "assistant" and message.tool_calls:
            name = message.tool_calls[-1].get("name")
            return name if isinstance(name, str) else None
    return None


def _offered(body: dict[str, Any]) -> tuple[set[str], dict[str, set[str]]]:
    """The offered tools' names, and each namespace tool's functions (OpenAI Responses)."""
    names: set[str] = set()
    namespaces: dict[str, set[str]] = {}
    for tool in body.get("tools") or []:
        if not isinstance(tool, dict):
            continue
        name = tool.get("name") or (tool.get("function") or {}).get("name")
        if tool.get("type") == "namespace" and isinstance(name, str):
            namespaces[name] = {
                str(t.get("name")) for t in tool.get("tools") or [] if isinstance(t, dict)
            }
        elif isinstance(name, str):
            names.add(name)
    return names, namespaces


def _named_call_for(body: dict[str, Any], kind: str, spec: str, searched: bool) -> ToolCall | None:
    """``[[call:NAME:ARGS]]`` / ``[[mcp:SERVER:TOOL:ARGS]]`` as the call the CLI expects."""
    if kind == "call":
        name, _, raw = spec.partition(":")
        server = None
    else:
        server, _, rest = spec.partition(":")
        name, _, raw = rest.partition(":")
    try:
        arguments = json.loads(raw) if raw.strip() else {}
    except ValueError:
        arguments = {"input": raw}
    if not isinstance(arguments, dict):
        arguments = {"input": arguments}
    names, namespaces = _offered(body)
    if server is None:
        return ToolCall(name=name, arguments=arguments) if name in names else None
    namespace = f"mcp__{server}"
    for ns in (namespace, f"{namespace}__"):
        if name in namespaces.get(ns, set()):
            return ToolCall(name=name, arguments=arguments, namespace=ns)
    for candidate in (f"mcp__{server}__{name}", f"{server}_{name}"):
        if candidate in names:
            return ToolCall(name=candidate, arguments=arguments)
    if TOOL_SEARCH in names:
        if searched:  # loaded by the search: call it by its name even if not listed here
            return ToolCall(name=f"mcp__{server}__{name}", arguments=arguments)
        return ToolCall(
            name=TOOL_SEARCH,
            arguments={"query": f"select:mcp__{server}__{name}", "max_results": 5},
        )
    return None


def tool_output_text(output: str) -> str:
    """The command's own output inside a CLI's tool-result wrapper.

    codex's ``exec_command`` result is a header ("Chunk ID: ...", "Wall time: ...",
    "Process exited with code 0", ...) followed by ``Output:`` and the output;
    its older ``shell`` tool answers JSON ``{"output": ..., "metadata": ...}``.
    """
    text = output.strip()
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except ValueError:
            obj = None
        if isinstance(obj, dict) and isinstance(obj.get("output"), str):
            return str(obj["output"])
    m = re.search(r"^Output:[ \t]*\n", text, re.MULTILINE)
    if m:
        return text[m.end() :]
    return text


def _side_answer(user_text: str) -> str:
    words = re.findall(r"[A-Za-z0-9'-]+", user_text)
    return " ".join(words[:5]) if words else "Conversation"


def plan_reply(
    api: str, body: dict[str, Any], messages: list[Message], kind: str = "main"
) -> Reply:
    """Decide the reply to one request (see the module docstring)."""
    users = [m for m in messages if m.role == "user"]
    texts = [m.user_text for m in users]
    texts_nonempty = [t for t in texts if t]
    latest = texts_nonempty[-1] if texts_nonempty else ""
    directives, latest_clean = parse_directives(latest)
    history = [parse_directives(t)[1] for t in texts_nonempty[:-1]]

    if kind != "main":
        return Reply(text=_side_answer(latest_clean))

    # The conversation ends with a tool result: the tool step of this turn is done.
    last_user = users[-1] if users else None
    ends_with_tool_result = bool(
        messages
        and messages[-1].role == "user"
        and last_user is not None
        and last_user.tool_results
        and not last_user.user_text
    )
    reply = Reply()
    if directives.fail is not None:
        reply.fail_status = directives.fail
    if directives.usage_limit:
        reply.fail_status = 429
        reply.fail_kind = "usage_limit"
    reply.cut = directives.cut
    reply.hang = directives.hang
    reply.slow = directives.slow
    if directives.think:
        reply.thinking = f"Thinking about: {latest_clean}"[:200]

    searched = ends_with_tool_result and _last_call_name(messages) == TOOL_SEARCH
    if ends_with_tool_result and not (searched and directives.tool_kind == "mcp"):
        output = tool_output_text(last_user.tool_results[-1] if last_user else "")
        first = next((line.strip() for line in output.splitlines() if line.strip()), "")
        reply.text = f"Tool said: {first}"
        return reply
    if directives.tool_command is not None:
        if directives.tool_kind == "write":
            call = _write_call_for(body, directives.tool_command)
        elif directives.tool_kind in ("call", "mcp"):
            call = _named_call_for(body, directives.tool_kind, directives.tool_command, searched)
        else:
            call = _tool_call_for(body, directives.tool_command)
        if call is not None:
            reply.tool_call = call
            reply.text = ""
            return reply
    reply.text = answer_for(latest_clean, history)
    return reply


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
