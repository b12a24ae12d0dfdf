// caw-server under a LanguageClient over stdio: started on demand, restarted
// when it dies, with events the chats use to resume their sessions.
import * as vscode from 'vscode';
import {
  CloseAction,
  type CloseHandlerResult,
  ErrorAction,
  type ErrorHandlerResult,
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
  State,
  TransportKind,
  WorkDoneProgress,
  type WorkDoneProgressBegin,
  type WorkDoneProgressEnd,
  type WorkDoneProgressReport,
} from 'vscode-languageclient/node';
import type { CawCapabilities, InitializationOptions, ProviderInfo } from './protocol';
import { CANCELLED } from './permissions';
import { CawRpc, cawCapabilities, type PermissionHandler } from './rpc';
import { serverNotFoundMessage } from './installHint';
import { findServer } from './serverPath';
import { autoWait } from './autoWait';

const RESTARTS_ALLOWED = 5;
const RESTART_WINDOW_MS = 3 * 60_000;

export class ServerNotFound extends Error {}

/** What the status item shows: not started yet, starting, up, missing, coming back, or given up. */
export type ServerState = 'idle' | 'starting' | 'ready' | 'notFound' | 'restarting' | 'stopped';

export class CawServer implements vscode.Disposable {
  private client?: LanguageClient;
  private starting?: Promise<CawRpc>;
  private rpcInstance?: CawRpc;
  private stopping = false;
  private restarts: number[] = [];
  private permissionHandler?: PermissionHandler;
  /** Times the daemon process was (re)started and initialized. */
  starts = 0;
  private readonly onReadyEmitter = new vscode.EventEmitter<{ restarted: boolean }>();
  private readonly onStoppedEmitter = new vscode.EventEmitter<{ restarting: boolean }>();
  /** The daemon is up (first start or after a restart); sessions must be resumed after a restart. */
  readonly onReady = this.onReadyEmitter.event;
  /** The daemon went away; `restarting` tells whether it is being started again. */
  readonly onStopped = this.onStoppedEmitter.event;
  private readonly onStateEmitter = new vscode.EventEmitter<ServerState>();
  readonly onState = this.onStateEmitter.event;
  state: ServerState = 'idle';

  constructor(private readonly output: vscode.OutputChannel) {
    this.onReady(() => this.setState('ready'));
    this.onStopped(({ restarting }) => this.setState(restarting ? 'restarting' : 'stopped'));
  }

  private setState(state: ServerState): void {
    this.state = state;
    this.onStateEmitter.fire(state);
  }

  /** Looks for the executable without starting it, so a missing daemon shows before the first chat fails. */
  check(): string | undefined {
    const config = vscode.workspace.getConfiguration('caw');
    const folders = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
    const found = findServer(config.get<string>('serverPath', ''), folders);
    if (found.path) {
      if (this.state === 'notFound') this.setState('idle');
      return undefined;
    }
    const message = serverNotFoundMessage(found.tried, found.badSetting);
    this.setState('notFound');
    return message;
  }

  get running(): boolean {
    return this.client?.state === State.Running;
  }

  get capabilities(): CawCapabilities | undefined {
    return cawCapabilities(this.client?.initializeResult);
  }

  get providers(): ProviderInfo[] {
    return this.capabilities?.providers ?? [];
  }

  /** The protocol client, starting the daemon first if needed. */
  rpc(): Promise<CawRpc> {
    if (this.client && this.rpcInstance && this.client.state !== State.Stopped) {
      // Running, or restarting (requests wait for the new connection).
      return this.client.state === State.Running ? Promise.resolve(this.rpcInstance) : this.whenRunning();
    }
    if (!this.starting) {
      this.setState('starting');
      this.starting = this.start()
        .catch((error: unknown) => {
          this.setState(error instanceof ServerNotFound ? 'notFound' : 'stopped');
          throw error;
        })
        .finally(() => (this.starting = undefined));
    }
    return this.starting;
  }

  private whenRunning(): Promise<CawRpc> {
    return new Promise((resolve, reject) => {
      const sub = this.onReady(() => {
        sub.dispose();
        stop.dispose();
        if (this.rpcInstance) resolve(this.rpcInstance);
        else reject(new Error('caw-server stopped'));
      });
      const stop = this.onStopped(({ restarting }) => {
        if (restarting) return;
        sub.dispose();
        stop.dispose();
        reject(new Error('caw-server stopped'));
      });
    });
  }

  private async start(): Promise<CawRpc> {
    await this.disposeClient();
    const config = vscode.workspace.getConfiguration('caw');
    const folders = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
    const found = findServer(config.get<string>('serverPath', ''), folders);
    if (!found.path) throw new ServerNotFound(serverNotFoundMessage(found.tried, found.badSetting));
    // This client answers permission questions (the chat's card); the mode is also sent per session.
    const initializationOptions: InitializationOptions = {
      permissionMode: permissionMode(config),
      clientCapabilities: { permissions: true },
    };
    const provider = config.get<string>('provider', '');
    if (provider) initializationOptions.provider = provider;
    const dataDir = config.get<string>('dataDir', '');
    if (dataDir) initializationOptions.dataDir = dataDir;
    const wait = autoWait(config);
    if (wait !== undefined) initializationOptions.autoWait = wait;

    const serverOptions: ServerOptions = {
      command: found.path,
      transport: TransportKind.stdio,
      options: { cwd: folders[0], env: { ...process.env } },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [],
      outputChannel: this.output,
      initializationOptions,
      errorHandler: {
        error: (): ErrorHandlerResult => ({ action: ErrorAction.Continue, handled: true }),
        closed: (): CloseHandlerResult => this.onClosed(),
      },
    };
    this.output.appendLine(`starting ${found.path}`);
    const client = new LanguageClient('caw', 'caw', serverOptions, clientOptions);
    this.client = client;
    this.rpcInstance = new CawRpc({
      sendRequest: (method, params, token?: vscode.CancellationToken) =>
        token ? client.sendRequest(method, params, token) : client.sendRequest(method, params),
      onNotification: (method, handler) => client.onNotification(method, handler as (p: unknown) => void),
      onRequest: (method, handler) => client.onRequest(method, (p: unknown, token: vscode.CancellationToken) => handler(p as never, token)),
    });
    this.rpcInstance.handlePermissions((params, token) => (this.permissionHandler ? this.permissionHandler(params, token) : Promise.resolve(CANCELLED)));
    let first = true;
    client.onDidChangeState((e) => {
      if (e.newState === State.Running) {
        this.starts++;
        this.onReadyEmitter.fire({ restarted: !first });
        first = false;
      }
    });
    try {
      await client.start();
    } catch (error) {
      await this.disposeClient();
      throw error;
    }
    return this.rpcInstance;
  }

  private onClosed(): CloseHandlerResult {
    if (this.stopping) return { action: CloseAction.DoNotRestart, handled: true };
    const now = Date.now();
    this.restarts = this.restarts.filter((t) => now - t < RESTART_WINDOW_MS);
    this.restarts.push(now);
    const restarting = this.restarts.length <= RESTARTS_ALLOWED;
    this.onStoppedEmitter.fire({ restarting });
    if (!restarting) {
      return {
        action: CloseAction.DoNotRestart,
        message: `caw-server stopped ${this.restarts.length} times in 3 minutes; not restarting it. Run "caw: Restart Server" after fixing the cause (see the caw output).`,
      };
    }
    this.output.appendLine('caw-server stopped; restarting it');
    return { action: CloseAction.Restart, handled: true };
  }

  /** Who answers the daemon's permission questions, for this and every later daemon process. */
  handlePermissions(handler: PermissionHandler): vscode.Disposable {
    this.permissionHandler = handler;
    return new vscode.Disposable(() => {
      if (this.permissionHandler === handler) this.permissionHandler = undefined;
    });
  }

  /** Stops the daemon (its backends end with it) and starts it again. */
  async restart(): Promise<CawRpc> {
    this.restarts = [];
    await this.disposeClient();
    this.onStoppedEmitter.fire({ restarting: true });
    return this.rpc();
  }

  /**
   * Shows the daemon's $/progress for `token` as window progress while `work` runs.
   * The daemon sends begin/report/end for a session/send with a workDoneToken.
   */
  async withTurnProgress<T>(token: string, work: () => Promise<T>): Promise<T> {
    const client = this.client;
    if (!client) return work();
    return vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'caw' }, async (progress) => {
      const sub = client.onProgress(WorkDoneProgress.type, token, (value: WorkDoneProgressBegin | WorkDoneProgressReport | WorkDoneProgressEnd) => {
        if (value.kind === 'begin') progress.report({ message: value.message ?? value.title });
        else if (value.kind === 'report' && value.message) progress.report({ message: value.message });
      });
      try {
        return await work();
      } finally {
        sub.dispose();
      }
    });
  }

  private async disposeClient(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.rpcInstance?.dispose();
    this.rpcInstance = undefined;
    if (!client) return;
    this.stopping = true;
    try {
      if (client.state === State.Running) await client.stop(5000);
      await client.dispose();
    } catch (error) {
      this.output.appendLine(`stopping caw-server: ${String(error)}`);
    } finally {
      this.stopping = false;
    }
  }

  async dispose(): Promise<void> {
    await this.disposeClient();
    this.onReadyEmitter.dispose();
    this.onStoppedEmitter.dispose();
    this.onStateEmitter.dispose();
  }
}

/** `caw.permissionMode`: ask (the default: every command and edit is put to the user) or bypass. */
export function permissionMode(config: vscode.WorkspaceConfiguration): 'ask' | 'bypass' {
  return config.get<string>('permissionMode', 'ask') === 'bypass' ? 'bypass' : 'ask';
}
