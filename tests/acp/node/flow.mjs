// The official ACP TypeScript SDK's client side driving `caw acp` through an editor's day.
// Run by tests/acp/test_node_client.py: node flow.mjs PYTHON PROVIDER DATA_DIR WORK_DIR LOOKUP_SERVER
// It prints one JSON object (what it saw) on its last stdout line; the Python test judges it.
// (SDK 2.x replaced ClientSideConnection with this app API: client().onRequest().connect().)
import { spawn } from "node:child_process";
import { Readable, Writable } from "node:stream";
import * as acp from "@agentclientprotocol/sdk";

const [python, provider, dataDir, work, lookupServer] = process.argv.slice(2);
// A stdio MCP server (tests/tools/lookup_server.py) the editor hands to the session.
const mcpServers = [
  { name: "pstdio", command: python, args: [lookupServer], env: [{ name: "LOOKUP_PREFIX", value: "env-ok-" }] },
];
const TURN = 120_000;

function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function start(editor) {
  const child = spawn(
    python,
    ["-m", "caw.cli", "acp", "--provider", provider, "--data-dir", dataDir],
    { cwd: work, stdio: ["pipe", "pipe", "inherit"] },
  );
  const exited = new Promise((resolve) => child.on("exit", resolve));
  const stream = acp.ndJsonStream(Writable.toWeb(child.stdin), Readable.toWeb(child.stdout));
  const connection = acp
    .client({ name: "caw-acp-node-test" })
    .onNotification(acp.methods.client.session.update, ({ params }) => {
      editor.updates.push(params.update);
      for (const waiter of editor.waiters.splice(0)) waiter();
    })
    .onRequest(acp.methods.client.session.requestPermission, ({ params }) => {
      editor.asked.push(params);
      const optionId = editor.answers.shift() ?? "allow_once";
      return { outcome: { outcome: "selected", optionId } };
    })
    .connect(stream);
  return { child, exited, agent: connection.agent };
}

function newEditor() {
  return { updates: [], asked: [], answers: [], waiters: [] };
}

const texts = (updates, kind) =>
  updates.filter((u) => u.sessionUpdate === kind).map((u) => u.content.text);

async function waitFor(editor, predicate, what) {
  while (!editor.updates.some(predicate)) {
    await within(new Promise((resolve) => editor.waiters.push(resolve)), TURN, what);
  }
}

async function prompt(agent, editor, sessionId, text) {
  const mark = editor.updates.length;
  const answer = await within(
    agent.request(acp.methods.agent.session.prompt, { sessionId, prompt: [{ type: "text", text }] }),
    TURN,
    `prompt ${text}`,
  );
  return { stopReason: answer.stopReason, updates: editor.updates.slice(mark) };
}

const out = {};
let editor = newEditor();
let first = start(editor);
const init = await within(
  first.agent.request(acp.methods.agent.initialize, { protocolVersion: 1, clientCapabilities: {} }),
  60_000,
  "initialize",
);
out.initialize = init;
const created = await first.agent.request(acp.methods.agent.session.new, { cwd: work, mcpServers });
const sessionId = created.sessionId;
out.sessionId = sessionId;
out.configOptions = created.configOptions;

const fact = await prompt(first.agent, editor, sessionId, "My deploy target is staging-eu. Remember that.");
out.fact = { stopReason: fact.stopReason, text: texts(fact.updates, "agent_message_chunk").join(""),
  chunks: texts(fact.updates, "agent_message_chunk").length };

const tool = await prompt(first.agent, editor, sessionId, "[[tool:bash:echo node-tool-ran]] go");
out.tool = { stopReason: tool.stopReason, calls: tool.updates.filter((u) => u.sessionUpdate.startsWith("tool_call")),
  text: texts(tool.updates, "agent_message_chunk").join("") };

const mcp = await prompt(first.agent, editor, sessionId, '[[mcp:pstdio:lookup:{"key": "alpha"}]] go');
out.mcp = { stopReason: mcp.stopReason, text: texts(mcp.updates, "agent_message_chunk").join("") };

const mark = editor.updates.length;
const slow = first.agent.request(acp.methods.agent.session.prompt, {
  sessionId, prompt: [{ type: "text", text: "[[slow:30]] Tell me a long story." }],
});
await waitFor(editor, (u) => editor.updates.indexOf(u) >= mark && u.sessionUpdate === "agent_message_chunk", "slow chunk");
await first.agent.notify(acp.methods.agent.session.cancel, { sessionId });
out.cancelled = (await within(slow, 40_000, "cancelled prompt")).stopReason;

editor.asked = []; // codex and opencode also ask for the echo above (answered allow_once)
editor.answers = ["reject_once"];
const rejected = await prompt(first.agent, editor, sessionId, "[[tool:bash:touch node-rejected.txt]] go");
editor.answers = ["allow_once"];
const allowed = await prompt(first.agent, editor, sessionId, "[[tool:bash:touch node-allowed.txt]] go");
out.permissions = { asked: editor.asked, rejected: rejected.stopReason, allowed: allowed.stopReason };

out.firstPid = first.child.pid;
first.child.kill("SIGKILL");
await first.exited;

editor = newEditor();
const second = start(editor);
await within(second.agent.request(acp.methods.agent.initialize, { protocolVersion: 1, clientCapabilities: {} }), 60_000, "initialize 2");
out.listed = (await second.agent.request(acp.methods.agent.session.list, { cwd: work })).sessions;
await within(
  second.agent.request(acp.methods.agent.session.load, { sessionId, cwd: work, mcpServers }),
  TURN,
  "load",
);
out.replayed = {
  users: texts(editor.updates, "user_message_chunk"),
  agent: texts(editor.updates, "agent_message_chunk").join(""),
  toolCalls: editor.updates.filter((u) => u.sessionUpdate === "tool_call").map((u) => u.title),
};
const recalled = await prompt(second.agent, editor, sessionId, "Where am I deploying?");
out.recalled = { stopReason: recalled.stopReason, text: texts(recalled.updates, "agent_message_chunk").join("") };
const mcpAgain = await prompt(second.agent, editor, sessionId, '[[mcp:pstdio:lookup:{"key": "gamma"}]] go');
out.mcpAgain = texts(mcpAgain.updates, "agent_message_chunk").join("");
try {
  await second.agent.request(acp.methods.agent.session.load, { sessionId: "../../etc", cwd: work, mcpServers: [] });
  out.tampered = "accepted";
} catch (error) {
  out.tampered = error.code;
}
second.child.stdin.end(); // the editor closes: caw acp ends its backends and exits
out.secondExit = await within(second.exited, 30_000, "caw acp to exit");
console.log(JSON.stringify(out));
