// The extension's protocol client against the real caw-server (LSP framing
// over stdio), the real claude CLI and caw's scripted model server.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type CancellationToken, createMessageConnection, type MessageConnection, ProgressType, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { CANCELLED, outcomeFor, type PermissionChoice } from '../../src/permissions';
import type { RequestPermissionParams, SessionUpdate } from '../../src/protocol';
import { CawRpc, cawCapabilities, errorData, errorKind, isCancelled, isConnectionLost } from '../../src/rpc';
import { type Child, config, ModelServer, startChild } from '../support/processes';

interface Daemon {
  child: Child;
  connection: MessageConnection;
  rpc: CawRpc;
  initializeResult: unknown;
}

let model: ModelServer;
let root: string;
let env: NodeJS.ProcessEnv;
const daemons: Daemon[] = [];

async function daemon(dataDir: string | null, initializationOptions?: Record<string, unknown>): Promise<Daemon> {
  const args = dataDir === null ? ['--no-data-dir'] : ['--data-dir', dataDir];
  const child = startChild('caw-server', config.cawServer, args, env, root, 'pipe');
  const { stdout, stdin } = child.proc;
  if (!stdout || !stdin) throw new Error('no stdio');
  const connection = createMessageConnection(new StreamMessageReader(stdout), new StreamMessageWriter(stdin));
  connection.listen();
  const rpc = new CawRpc({
    sendRequest: <R>(method: string, params: unknown, token?: CancellationToken) =>
      token ? connection.sendRequest<R>(method, params, token) : connection.sendRequest<R>(method, params),
    onNotification: (method, handler) => connection.onNotification(method, handler as (p: unknown) => void),
    onRequest: (method, handler) => connection.onRequest(method, (p: unknown, token: CancellationToken) => handler(p as never, token)),
  });
  const d: Daemon = { child, connection, rpc, initializeResult: undefined };
  daemons.push(d);
  const initializeResult = await connection.sendRequest('initialize', {
    processId: process.pid,
    rootUri: null,
    capabilities: { window: { workDoneProgress: true } },
    clientInfo: { name: 'caw-vscode-unit' },
    initializationOptions,
  });
  await connection.sendNotification('initialized', {});
  d.initializeResult = initializeResult;
  return d;
}

async function shutdown(d: Daemon): Promise<void> {
  await d.connection.sendRequest('shutdown');
  await d.connection.sendNotification('exit');
  d.connection.dispose();
  await d.child.stop();
}

before(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'caw-vscode-rpc-'));
  model = await ModelServer.start();
  env = model.cliEnvironment(path.join(root, 'cli'));
});

after(async () => {
  for (const d of daemons) {
    d.connection.dispose();
    await d.child.stop();
  }
  await model.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('CawRpc against caw-server', { concurrency: 1, timeout: 120_000 }, () => {
  test('initialize reports the protocol version and the installed providers', async () => {
    const d = await daemon(null);
    const caw = cawCapabilities(d.initializeResult);
    assert.ok(caw, 'capabilities.experimental.caw is present');
    assert.match(caw.protocolVersion ?? '', /^\d+\.\d+$/);
    const claude = caw.providers?.find((p) => p.name === 'claude_code');
    assert.equal(claude?.installed, true);
    await shutdown(d);
  });

  test('errors carry their documented kind', async () => {
    const d = await daemon(null);
    await assert.rejects(d.rpc.send({ sessionId: 'no-such-session', message: 'hi' }), (error: unknown) => {
      assert.equal(errorKind(error), 'unknownSession');
      return true;
    });
    await assert.rejects(d.rpc.send({ sessionId: 's', message: '' }), (error: unknown) => {
      assert.equal((error as { code: number }).code, -32602);
      assert.ok(errorData(error)?.errors?.some((e) => e.field === 'message'));
      return true;
    });
    await assert.rejects(d.rpc.resume({ handle: 'not a handle' }), (error: unknown) => {
      assert.equal(errorKind(error), 'invalidHandle');
      return true;
    });
    await shutdown(d);
  });

  test('a turn streams updates and progress before its answer; cancel stops a slow one', async () => {
    const d = await daemon(path.join(root, 'data-stream'));
    const started = await d.rpc.start({ provider: 'claude_code', cwd: root });
    assert.equal(started.provider, 'claude_code');

    const updates: SessionUpdate[] = [];
    const progress: string[] = [];
    const sub = d.rpc.onUpdate((u) => updates.push(u), started.sessionId);
    const token = 'unit-progress-1';
    const progressSub = d.connection.onProgress(new ProgressType<{ kind: string }>(), token, (v) => progress.push(v.kind));
    const answer = await d.rpc.send({ sessionId: started.sessionId, message: 'Repeat after me: hello from vscode', workDoneToken: token });
    assert.equal(answer.turn.result, 'hello from vscode');
    assert.ok(answer.resumeHandle, 'a handle after the first answer');
    const streamed = updates.flatMap((u) => (u.update.kind === 'text' ? [u.update.text] : [])).join('');
    assert.equal(streamed, 'hello from vscode', 'text updates arrived before the answer');
    assert.equal(progress[0], 'begin');
    assert.equal(progress.at(-1), 'end');
    progressSub.dispose();

    updates.length = 0;
    const slow = d.rpc.send({ sessionId: started.sessionId, message: '[[slow:30]] Tell me a long story.' });
    await new Promise<void>((resolve) => {
      const s = d.rpc.onUpdate((u) => {
        if (u.update.kind === 'text') {
          s.dispose();
          resolve();
        }
      }, started.sessionId);
    });
    assert.equal((await d.rpc.cancel(started.sessionId)).cancelled, true);
    await assert.rejects(slow, (error: unknown) => {
      assert.ok(isCancelled(error), String(error));
      return true;
    });
    sub.dispose();

    const listed = await d.rpc.list(root);
    assert.ok(listed.sessions.some((s) => s.sessionId === started.sessionId && s.live));
    await d.rpc.end(started.sessionId);
    await shutdown(d);
  });

  test('permission questions reach the handler, its answer decides, a cancelled turn cancels the question', async () => {
    const d = await daemon(null, { clientCapabilities: { permissions: true } });
    const work = fs.mkdtempSync(path.join(root, 'work-'));
    const { sessionId } = await d.rpc.start({ provider: 'claude_code', cwd: work });
    const asked: RequestPermissionParams[] = [];
    let next: PermissionChoice = 'reject';
    d.rpc.handlePermissions((p) => {
      asked.push(p);
      return Promise.resolve(outcomeFor(p, next));
    });
    const rejected = await d.rpc.send({ sessionId, message: '[[tool:bash:touch rejected.txt]] Run it.' });
    assert.match(rejected.turn.result, /reject/i);
    assert.equal(fs.existsSync(path.join(work, 'rejected.txt')), false);
    assert.equal(asked[0].sessionId, sessionId);
    assert.equal(asked[0].toolCall.title, 'touch rejected.txt');
    assert.equal(asked[0].toolCall.kind, 'execute');

    next = 'once';
    await d.rpc.send({ sessionId, message: '[[tool:bash:touch once.txt]] Run it.' });
    assert.ok(fs.existsSync(path.join(work, 'once.txt')));
    assert.equal(asked.length, 2);

    // Nobody answers; cancelling the turn makes the daemon withdraw the question ($/cancelRequest).
    let withdrawn!: () => void;
    const wasWithdrawn = new Promise<void>((resolve) => (withdrawn = resolve));
    let waiting!: () => void;
    const isWaiting = new Promise<void>((resolve) => (waiting = resolve));
    d.rpc.handlePermissions((_p, token) => {
      waiting();
      return new Promise((resolve) =>
        token.onCancellationRequested(() => {
          withdrawn();
          resolve(CANCELLED);
        }),
      );
    });
    const pending = d.rpc.send({ sessionId, message: '[[tool:bash:touch never.txt]] Run it.' });
    await isWaiting;
    assert.equal((await d.rpc.cancel(sessionId)).cancelled, true);
    await assert.rejects(pending, (error: unknown) => isCancelled(error));
    await wasWithdrawn;
    assert.equal(fs.existsSync(path.join(work, 'never.txt')), false);
    await d.rpc.end(sessionId);
    await shutdown(d);
  });

  test('after the daemon is killed, a new one resumes the chat from the handle with its history', async () => {
    const dataDir = path.join(root, 'data-resume');
    const first = await daemon(dataDir);
    const started = await first.rpc.start({ provider: 'claude_code', cwd: root });
    const told = await first.rpc.send({ sessionId: started.sessionId, message: 'My deploy target is staging-eu.' });
    const handle = told.resumeHandle;
    assert.ok(handle);
    const closed = new Promise<void>((resolve) => first.connection.onClose(() => resolve()));
    process.kill(first.child.pid, 'SIGKILL');
    await closed;
    // What a request gets on the dead connection, and once the client dropped it.
    await assert.rejects(async () => first.rpc.list(), (error: unknown) => isConnectionLost(error));
    first.connection.dispose();
    await assert.rejects(async () => first.rpc.list(), (error: unknown) => isConnectionLost(error));

    const second = await daemon(dataDir);
    const resumed = await second.rpc.resume({ handle, cwd: root });
    assert.equal(resumed.sessionId, started.sessionId);
    assert.equal(resumed.provider, 'claude_code');
    const history = resumed.turns ?? [];
    assert.equal(history.length, 1);
    assert.match(history.map((t) => t.input).join(), /staging-eu/);
    const answer = await second.rpc.send({ sessionId: resumed.sessionId, message: 'Where am I deploying?' });
    assert.match(answer.turn.result, /staging-eu/);
    await second.rpc.end(resumed.sessionId);
    await shutdown(second);
  });
});
