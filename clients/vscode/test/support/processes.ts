// Child processes for the tests: each in its own process group, ended as a
// whole; the scripted model server of caw.testing and the CLI environment
// pointed at it; where the tools are.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';

// Bundled to out/test/<dir>/<file>.js.
export const extensionRoot = path.resolve(__dirname, '../../..');
export const repoRoot = path.resolve(extensionRoot, '../..');

export const config = {
  codeServer:
    process.env.CAW_E2E_CODE_SERVER ??
    path.join(
      process.env.CAW_E2E_HOME ?? path.join(os.homedir(), '.cache/caw-e2e'),
      'code-server-4.99.4/node_modules/.bin/code-server',
    ),
  chromium: process.env.CAW_E2E_CHROMIUM ?? '/usr/bin/chromium',
  python: process.env.CAW_PYTHON ?? path.join(repoRoot, '.venv/bin/python'),
  cawServer: process.env.CAW_SERVER ?? path.join(repoRoot, '.venv/bin/caw-server'),
  outputDir: process.env.CAW_E2E_OUTPUT ?? path.join(repoRoot, 'test-output/vscode'),
  /** Upper bound for any single wait on the UI or the extension. */
  timeoutMs: Number(process.env.CAW_E2E_TIMEOUT_MS ?? 90_000),
};

export function log(message: string): void {
  const t = new Date().toISOString().slice(11, 23);
  process.stderr.write(`[e2e ${t}] ${message}\n`);
}

/** A child in its own process group; `stop()` ends the whole group. */
export class Child {
  private exited: Promise<number | null>;
  output = '';

  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
    echo: boolean,
  ) {
    this.exited = new Promise((resolve) => proc.on('exit', (code) => resolve(code)));
    const keep = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString()).slice(-200_000);
      if (echo) process.stderr.write(`[${name}] ${chunk.toString()}`);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
  }

  get pid(): number {
    if (this.proc.pid === undefined) throw new Error(`${this.name} did not start`);
    return this.proc.pid;
  }

  /** Resolves with the first match of `pattern` in the child's output. */
  waitForOutput(pattern: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const m = this.output.match(pattern);
        if (m) {
          cleanup();
          resolve(m);
        }
        return !!m;
      };
      const onExit = (code: number | null): void => {
        cleanup();
        reject(new Error(`${this.name} exited (${code}) before printing ${pattern}:\n${this.output.slice(-3000)}`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${this.name} did not print ${pattern} in ${timeoutMs} ms:\n${this.output.slice(-3000)}`));
      }, timeoutMs);
      const onData = (): void => void check();
      const cleanup = (): void => {
        clearTimeout(timer);
        this.proc.stdout?.off('data', onData);
        this.proc.stderr?.off('data', onData);
        this.proc.off('exit', onExit);
      };
      this.proc.stdout?.on('data', onData);
      this.proc.stderr?.on('data', onData);
      this.proc.on('exit', onExit);
      check();
    });
  }

  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    try {
      process.kill(-this.pid, 'SIGTERM');
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-this.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}

export function startChild(
  name: string,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd?: string,
  stdin: 'ignore' | 'pipe' = 'ignore',
): Child {
  const proc = spawn(command, args, { env, cwd, detached: true, stdio: [stdin, 'pipe', 'pipe'] });
  return new Child(name, proc, process.env.CAW_E2E_VERBOSE === '1');
}

/** The scripted model server (caw.testing) and the claude CLI's environment pointed at it. */
export class ModelServer {
  private constructor(
    private readonly child: Child,
    readonly url: string,
  ) {}

  static async start(): Promise<ModelServer> {
    const child = startChild('model', config.python, ['-m', 'caw.testing.model_server', '--port', '0', '--log'], process.env, repoRoot);
    const m = await child.waitForOutput(/^(http:\/\/127\.0\.0\.1:\d+)\s*$/m);
    return new ModelServer(child, m[1]);
  }

  /**
   * The same server, also writing one JSON line per model request to `requestsFile`
   * (kind, model, the latest user text, and the tail of the request's messages), so a
   * test can see what reached the model: an attachment's content, the model's name.
   * A message with `[[limit-once]]` is answered the API's usage-limit error the first time
   * only (what an auto-wait's resend needs; `[[usage-limit]]` fails every time).
   */
  static async startRecording(requestsFile: string): Promise<ModelServer> {
    const script = [
      'import json, signal, sys, threading',
      'from caw.testing.model_server import ScriptedModelServer',
      'out = open(sys.argv[1], "a", encoding="utf-8")',
      'lock = threading.Lock()',
      'limited = set()',
      'def record(rec, reply):',
      '    body = rec.body if isinstance(rec.body, dict) else {}',
      '    tail = json.dumps(body.get("messages", body.get("input", "")))[-60000:]',
      '    line = json.dumps({"kind": rec.kind, "model": rec.model, "texts": rec.user_texts()[-1:], "tail": tail})',
      '    with lock:',
      '        out.write(line + "\\n")',
      '        out.flush()',
      '        last = " ".join(rec.user_texts()[-1:])',
      '        if rec.kind == "main" and "[[limit-once]]" in last and last not in limited:',
      '            limited.add(last)',
      '            reply.fail_status, reply.fail_kind = 429, "usage_limit"',
      '            return reply',
      '    print(f"{rec.kind} {rec.model} {rec.user_texts()[-1:]!r} -> {reply.text!r}", file=sys.stderr, flush=True)',
      'server = ScriptedModelServer("127.0.0.1", 0)',
      'server.set_responder(record)',
      'server.start()',
      'print(server.base_url, flush=True)',
      'done = threading.Event()',
      'for sig in (signal.SIGTERM, signal.SIGINT):',
      '    signal.signal(sig, lambda *_: done.set())',
      'while not done.wait(1.0):',
      '    pass',
      'server.stop()',
    ].join('\n');
    const child = startChild('model', config.python, ['-c', script, requestsFile], process.env, repoRoot);
    const m = await child.waitForOutput(/^(http:\/\/127\.0\.0\.1:\d+)\s*$/m);
    return new ModelServer(child, m[1]);
  }

  /** cli_environment(provider, url, root): a private HOME where the provider's CLI talks to this server. */
  cliEnvironment(root: string, provider = 'claude_code'): NodeJS.ProcessEnv {
    const script =
      'import json, sys\nfrom caw.testing import cli_environment\nprint(json.dumps(cli_environment(sys.argv[3], sys.argv[1], sys.argv[2])))';
    const out = execFileSync(config.python, ['-c', script, this.url, root, provider], { cwd: repoRoot, encoding: 'utf8' });
    return JSON.parse(out) as NodeJS.ProcessEnv;
  }

  get log(): string {
    return this.child.output;
  }

  stop(): Promise<void> {
    return this.child.stop();
  }
}

