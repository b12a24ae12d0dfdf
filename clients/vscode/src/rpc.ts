// The typed caw client over any JSON-RPC connection that looks like
// vscode-jsonrpc's (the LanguageClient in the extension, a MessageConnection
// over a child process in the unit tests). Nothing here imports 'vscode'.
import type {
  ChangesResult,
  ConfigureParams,
  ModelsResult,
  RevertResult,
  SessionInfo12,
  CancelResult,
  CawCapabilities,
  EndResult,
  ErrorData,
  ListResult,
  RequestPermissionParams,
  RequestPermissionResult,
  ResumeParams,
  ResumeResult,
  SendParams,
  SendResult,
  SessionDidChange,
  SessionUpdate,
  StartParams,
  StartResult,
} from './protocol';
import { ClientRequests, Methods, Notifications, REQUEST_CANCELLED } from './protocol';

export interface Disposable {
  dispose(): void;
}

export interface CancellationTokenLike {
  readonly isCancellationRequested: boolean;
  onCancellationRequested(listener: () => void): Disposable;
}

export interface RpcConnection {
  sendRequest<R>(method: string, params: unknown, token?: CancellationTokenLike): Promise<R>;
  onNotification(method: string, handler: (params: never) => void): Disposable;
  /** Requests from the daemon; the token is cancelled when it stops waiting ($/cancelRequest). */
  onRequest?(method: string, handler: (params: never, token: CancellationTokenLike) => Promise<unknown>): Disposable;
}

/** Answers session/requestPermission; resolves with the user's answer. */
export type PermissionHandler = (params: RequestPermissionParams, token: CancellationTokenLike) => Promise<RequestPermissionResult>;

type Listener<T> = (value: T) => void;

class Emitter<T> {
  private listeners = new Set<Listener<T>>();
  on(listener: Listener<T>): Disposable {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }
  fire(value: T): void {
    for (const listener of [...this.listeners]) listener(value);
  }
}

export class CawRpc {
  private readonly updates = new Emitter<SessionUpdate>();
  private readonly changes = new Emitter<SessionDidChange>();
  private readonly registrations: Disposable[];
  private permissionHandler?: PermissionHandler;

  constructor(private readonly connection: RpcConnection) {
    // A connection keeps one handler per notification: fan out from here.
    this.registrations = [
      connection.onNotification(Notifications.update, (p: SessionUpdate) => this.updates.fire(p)),
      connection.onNotification(Notifications.didChange, (p: SessionDidChange) => this.changes.fire(p)),
    ];
    const permission = connection.onRequest?.(ClientRequests.requestPermission, (p: RequestPermissionParams, token) =>
      // Nobody to ask: not allowed.
      this.permissionHandler ? this.permissionHandler(p, token) : Promise.resolve({ outcome: { outcome: 'cancelled' } }),
    );
    if (permission) this.registrations.push(permission);
  }

  /** Who answers the daemon's permission questions (one handler; a later call replaces it). */
  handlePermissions(handler: PermissionHandler): Disposable {
    this.permissionHandler = handler;
    return { dispose: () => (this.permissionHandler = this.permissionHandler === handler ? undefined : this.permissionHandler) };
  }

  start(params: StartParams): Promise<StartResult> {
    return this.connection.sendRequest(Methods.start, params);
  }

  send(params: SendParams, token?: CancellationTokenLike): Promise<SendResult> {
    // vscode-jsonrpc sends [params, undefined] positionally if given an undefined token.
    return token ? this.connection.sendRequest(Methods.send, params, token) : this.connection.sendRequest(Methods.send, params);
  }

  resume(params: ResumeParams): Promise<ResumeResult> {
    return this.connection.sendRequest(Methods.resume, params);
  }

  cancel(sessionId: string): Promise<CancelResult> {
    return this.connection.sendRequest(Methods.cancel, { sessionId });
  }

  end(sessionId: string): Promise<EndResult> {
    return this.connection.sendRequest(Methods.end, { sessionId });
  }

  list(cwd?: string): Promise<ListResult> {
    return this.connection.sendRequest(Methods.list, cwd === undefined ? {} : { cwd });
  }

  /** The files a turn changed, with their content before and after it (1-based turn). */
  turnChanges(sessionId: string, turn: number): Promise<ChangesResult> {
    return this.connection.sendRequest(Methods.changes, { sessionId, turn });
  }

  /** Puts back what the turn changed; error filesChangedSince (data.files) when a file moved on. */
  revert(sessionId: string, turn: number): Promise<RevertResult> {
    return this.connection.sendRequest(Methods.revert, { sessionId, turn });
  }

  rename(sessionId: string, title: string): Promise<SessionInfo12> {
    return this.connection.sendRequest(Methods.rename, { sessionId, title });
  }

  delete(sessionId: string): Promise<Record<string, never>> {
    return this.connection.sendRequest(Methods.delete, { sessionId });
  }

  configure(params: ConfigureParams): Promise<SessionInfo12> {
    return this.connection.sendRequest(Methods.configure, params);
  }

  models(provider?: string): Promise<ModelsResult> {
    return this.connection.sendRequest(Methods.models, provider ? { provider } : {});
  }

  /** session/update notifications, for every session or only `sessionId`'s. */
  onUpdate(listener: Listener<SessionUpdate>, sessionId?: string): Disposable {
    return this.updates.on((p) => {
      if (sessionId === undefined || p.sessionId === sessionId) listener(p);
    });
  }

  onDidChange(listener: Listener<SessionDidChange>): Disposable {
    return this.changes.on(listener);
  }

  dispose(): void {
    for (const r of this.registrations) r.dispose();
  }
}

/** `capabilities.experimental.caw` of an initialize result. */
export function cawCapabilities(initializeResult: unknown): CawCapabilities | undefined {
  const caps = (initializeResult as { capabilities?: { experimental?: { caw?: CawCapabilities } } } | undefined)
    ?.capabilities;
  return caps?.experimental?.caw;
}

interface ErrorLike {
  code?: unknown;
  message?: unknown;
  data?: unknown;
}

/** `data.kind` of a caw error answer (undefined for anything else). */
export function errorKind(error: unknown): string | undefined {
  const data = (error as ErrorLike | undefined)?.data as ErrorData | undefined;
  return typeof data?.kind === 'string' ? data.kind : undefined;
}

export function errorData(error: unknown): ErrorData | undefined {
  const data = (error as ErrorLike | undefined)?.data;
  return data && typeof data === 'object' && typeof (data as ErrorData).kind === 'string'
    ? (data as ErrorData)
    : undefined;
}

export function isCancelled(error: unknown): boolean {
  return (error as ErrorLike | undefined)?.code === REQUEST_CANCELLED || errorKind(error) === 'cancelled';
}

export function errorMessage(error: unknown): string {
  const message = (error as ErrorLike | undefined)?.message;
  return typeof message === 'string' ? message : String(error);
}

/** The request failed because the connection to the daemon went away (it died or is restarting). */
export function isConnectionLost(error: unknown): boolean {
  const code = (error as ErrorLike | undefined)?.code;
  // vscode-jsonrpc's PendingResponseRejected / ConnectionInactive.
  if (code === -32097 || code === -32096) return true;
  return /connection (is |got )?(disposed|closed)|client is not running/i.test(errorMessage(error));
}
