#!/usr/bin/env node
// A caw-server client in plain Node.js: nothing but the standard library.
//
//   node caw-client.mjs [daemon command...]      (default: caw-server)
//
// Runs one whole session through the daemon: initialize, start a session, two
// sends (streaming the first), end, shutdown, exit. Prints one JSON line per
// step on stdout; the daemon's log goes to stderr. Import CawClient to reuse it.

import { spawn } from "node:child_process";
import { pathToFileURL } from "node:url";

export class CawClient {
  constructor(command, args = [], options = {}) {
    this.child = spawn(command, args, { stdio: ["pipe", "pipe", "inherit"], ...options });
    this.nextId = 1;
    this.pending = new Map();
    this.listeners = new Set();
    this.buffer = Buffer.alloc(0);
    this.exited = new Promise((resolve) => this.child.on("exit", (code, signal) => resolve(code ?? signal)));
    this.child.on("exit", () => {
      for (const { reject } of this.pending.values()) reject(new Error("caw-server exited"));
      this.pending.clear();
    });
    this.child.stdout.on("data", (chunk) => this.#read(chunk));
  }

  // LSP base protocol: "Content-Length: N\r\n\r\n" then N bytes of UTF-8 JSON.
  #read(chunk) {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const headerEnd = this.buffer.indexOf("\r\n\r\n");
      if (headerEnd < 0) return;
      const header = this.buffer.subarray(0, headerEnd).toString("ascii");
      const match = /content-length:\s*(\d+)/i.exec(header);
      if (!match) throw new Error(`unexpected header from caw-server: ${header}`);
      const start = headerEnd + 4;
      const end = start + Number(match[1]);
      if (this.buffer.length < end) return;
      const message = JSON.parse(this.buffer.subarray(start, end).toString("utf8"));
      this.buffer = this.buffer.subarray(end);
      this.#dispatch(message);
    }
  }

  #dispatch(message) {
    if ("method" in message) {
      if ("id" in message) {
        // A request from the server (caw-server sends none today): decline politely.
        this.#write({ jsonrpc: "2.0", id: message.id, error: { code: -32601, message: "not supported" } });
      } else {
        for (const listener of this.listeners) listener(message.method, message.params);
      }
      return;
    }
    const waiter = this.pending.get(message.id);
    if (!waiter) return;
    this.pending.delete(message.id);
    if (message.error) {
      const error = new Error(message.error.message);
      Object.assign(error, { code: message.error.code, data: message.error.data });
      waiter.reject(error);
    } else {
      waiter.resolve(message.result);
    }
  }

  #write(message) {
    const body = Buffer.from(JSON.stringify(message), "utf8");
    this.child.stdin.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, "ascii"), body]));
  }

  request(method, params) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.#write({ jsonrpc: "2.0", id, method, params });
    });
  }

  notify(method, params) {
    this.#write({ jsonrpc: "2.0", method, params });
  }

  onNotification(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close() {
    await this.request("shutdown");
    this.notify("exit");
    return this.exited;
  }
}

async function main() {
  const [command, ...args] = process.argv.length > 2 ? process.argv.slice(2) : ["caw-server"];
  const print = (record) => process.stdout.write(JSON.stringify(record) + "\n");
  const client = new CawClient(command, args);

  const init = await client.request("initialize", { processId: process.pid, rootUri: null, capabilities: {} });
  client.notify("initialized", {});
  const caw = init.capabilities.experimental.caw;
  print({ step: "initialize", server: init.serverInfo.name, protocolVersion: caw.protocolVersion });

  let streamed = "";
  client.onNotification((method, params) => {
    if (method === "session/update" && params.update.kind === "text") streamed += params.update.text;
  });

  const { sessionId, provider } = await client.request("session/start", {});
  print({ step: "start", sessionId, provider });

  const first = await client.request("session/send", { sessionId, message: "My deploy target is staging-eu. Remember that." });
  print({ step: "send", result: first.turn.result, streamed, hasHandle: typeof first.resumeHandle === "string" });

  const second = await client.request("session/send", { sessionId, message: "Where am I deploying?" });
  print({ step: "send", result: second.turn.result });

  try {
    await client.request("session/send", { sessionId: "no-such-session", message: "hi" });
  } catch (error) {
    print({ step: "error", code: error.code, kind: error.data.kind });
  }

  const { trajectory } = await client.request("session/end", { sessionId });
  print({ step: "end", turns: trajectory.turns.length });
  print({ step: "exit", code: await client.close() });
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
