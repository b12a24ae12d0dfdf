// One chat per workspace folder: the session it talks to, what its view shows,
// and the webview panel that shows it.
import * as crypto from 'node:crypto';
import * as vscode from 'vscode';
import type { ChatMeta, ChatStore } from './chatStore';
import {
  optional,
  applyUpdate,
  type ChatStatus,
  type ChatViewState,
  type Entry,
  type FromWebview,
  type NoticeLevel,
  runningTurn,
  type ToWebview,
  type ViewTurn,
  viewTurn,
  endWait,
  usageLimitError,
  usageLimitWaitText,
} from './chatModel';
import type { PermissionRules } from './permissionRules';
import {
  CANCELLED,
  CHOICES,
  describeRequest,
  isChoice,
  outcomeFor,
  type PermissionCard,
  type PermissionChoice,
  permissionCard,
  workspaceRule,
} from './permissions';
import { runCodeAction } from './codeActions';
import { healthWarning } from './health';
import { withHint } from './installHint';
import { attachmentRefs, inlineAttachments, type PendingAttachment } from './attachments';
import { showChange } from './review';
import {
  type Attachment,
  atLeast,
  type ProviderModels,
  PROTOCOL_CHATS,
  type RequestPermissionParams,
  type RequestPermissionResult,
  type ResumeResult,
  type RuleSpec,
  type Turn,
} from './protocol';
import { type CancellationTokenLike, errorData, errorKind, errorMessage, isCancelled, isConnectionLost } from './rpc';
import { type CawServer, permissionMode } from './server';
import type { ModelChoices } from './modelChoices';
import { type TrustDecisions, trustQuestion } from './trust';

/** Errors the chat already shows (with Retry); the command that failed does not show them again. */
const shownErrors = new WeakSet();
export function alreadyShown(error: unknown): boolean {
  return !!error && typeof error === 'object' && shownErrors.has(error);
}
function markShown(error: unknown): void {
  if (error && typeof error === 'object') shownErrors.add(error);
}

const TITLE_LENGTH = 60;
export const CHAT_VIEW_TYPE = 'caw.chat';
const RECONNECT_WAIT_MS = 60_000;

interface Question {
  card: PermissionCard;
  params: RequestPermissionParams;
  /** A notification was shown for it (the chat view was hidden). */
  notified: boolean;
  settle(result: RequestPermissionResult): void;
}

function titleOf(message: string): string {
  const flat = message.split(/\s+/).filter(Boolean).join(' ');
  return flat.length > TITLE_LENGTH ? `${flat.slice(0, TITLE_LENGTH)}…` : flat;
}

export class Chat implements vscode.Disposable {
  private state: ChatViewState;
  private meta?: ChatMeta;
  private panel?: ChatPanel;
  private sending = 0;
  private reconnecting?: Promise<void>;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly questions = new Map<string, Question>();
  private asked = 0;
  private disposed = false;
  /** Turns completed in this window (tests read it). */
  completedTurns = 0;

  constructor(
    readonly folder: vscode.WorkspaceFolder,
    private readonly server: CawServer,
    private readonly store: ChatStore,
    private readonly rules: PermissionRules,
    private readonly trust: TrustDecisions,
    private readonly choices: ModelChoices,
    private readonly extensionUri: vscode.Uri,
  ) {
    this.state = { folderName: folder.name, folderUri: folder.uri.toString(), status: 'empty', entries: [] };
    this.disposables.push(
      server.onStopped(({ restarting }) => this.daemonStopped(restarting)),
      server.onReady(({ restarted }) => {
        if (restarted) void this.reconnect();
      }),
    );
  }

  get key(): string {
    return this.folder.uri.toString();
  }

  get sessionId(): string | undefined {
    return this.state.sessionId;
  }

  get status(): ChatStatus {
    return this.state.status;
  }

  get busy(): boolean {
    return this.sending > 0;
  }

  snapshot(): ChatViewState {
    return JSON.parse(JSON.stringify(this.state)) as ChatViewState;
  }

  show(preserveFocus = false, restored?: vscode.WebviewPanel): void {
    if (restored && this.panel) {
      restored.dispose(); // shown already: keep one view
    } else if (!this.panel || restored) {
      this.panel = new ChatPanel(this, this.extensionUri, preserveFocus, restored);
      this.panel.onDidDispose(() => {
        this.panel = undefined;
        this.notifyHiddenQuestions();
      });
      this.panel.onDidHide(() => this.notifyHiddenQuestions());
    } else {
      this.panel.reveal(preserveFocus);
    }
    if (!preserveFocus) this.panel.post({ type: 'focus' });
  }

  /** A restored chat view (WebviewPanelSerializer) takes this chat's place on screen. */
  adopt(panel: vscode.WebviewPanel): void {
    this.show(true, panel);
  }

  get hasPanel(): boolean {
    return !!this.panel;
  }

  /** Starts a new session in this folder, replacing the one shown. */
  async start(provider: string | undefined, model: string | undefined, reasoning?: string): Promise<void> {
    this.lastAction = () => this.start(provider, model, reasoning);
    this.pendingAttachments = [];
    this.setState({ status: 'starting', provider, model, reasoning: reasoning ?? null, sessionId: undefined, title: undefined, entries: [], attachments: [] });
    try {
      const rpc = await this.server.rpc();
      const started = await this.withTrust(() =>
        rpc.start({
          provider: provider || null,
          model: model || null,
          reasoning: reasoning || null,
          cwd: this.folder.uri.fsPath,
          metadata: { client: 'vscode' },
          ...this.setupParams(),
        }),
      );
      this.meta = await this.store.save(this.key, {
        sessionId: started.sessionId,
        provider: started.provider,
        model: started.model ?? null,
      });
      this.setState({
        status: 'idle',
        provider: started.provider,
        model: started.model ?? null,
        sessionId: started.sessionId,
        title: this.meta.title,
      });
      const warning = healthWarning(this.server.capabilities?.health?.find((h) => h.provider === started.provider));
      if (warning) this.notice('warning', warning);
      void this.loadModels();
    } catch (error) {
      this.setState({ status: 'failed' });
      this.notice('error', `Could not start a chat: ${describe(error)}`, true);
      markShown(error);
      throw error;
    }
  }

  private lastAction?: () => Promise<void>;

  /**
   * Runs a session/start or session/resume; when the daemon refuses the folder
   * (untrustedWorkspace), asks the user, keeps the answer and runs it again once.
   */
  private async withTrust<T>(request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      if (errorKind(error) !== 'untrustedWorkspace') throw error;
      const files = errorData(error)?.files ?? [];
      const { message, detail } = trustQuestion(this.folder.name, files);
      const trust = 'Trust';
      const without = 'Without project configuration';
      const picked = await vscode.window.showWarningMessage(message, { modal: true, detail }, trust, without);
      if (!picked) throw error;
      await this.trust.remember(this.key, picked === trust);
      this.notice(
        'info',
        picked === trust
          ? `Trusted the agent configuration of ${this.folder.name} (${files.join(', ')}).`
          : `This chat runs without the project's agent configuration (${files.join(', ')}).`,
      );
      return request();
    }
  }

  /**
   * Attaches to a stored chat: with its handle when we have one (a bare
   * session id works when the daemon's data dir has the session), and shows
   * its history.
   */
  async resume(meta: ChatMeta): Promise<void> {
    this.lastAction = () => this.resume(meta);
    this.meta = meta;
    this.setState({
      status: 'starting',
      provider: meta.provider,
      model: meta.model,
      sessionId: meta.sessionId,
      title: meta.title,
      entries: [],
    });
    try {
      const result = await this.attachSession(meta);
      this.setState({
        status: 'idle',
        provider: result.provider,
        entries: result.turns?.length
          ? (result.turns ?? []).map((t): Entry => {
              const turn = viewTurn(t);
              if (turn.number !== undefined && meta.reverted?.includes(turn.number)) turn.reverted = true;
              return { kind: 'turn', turn };
            })
          : [{ kind: 'notice', level: 'info', text: 'Chat resumed. No earlier turns to show (none yet, or the daemon keeps no history: see caw.dataDir).' }],
      });
      void this.loadModels();
    } catch (error) {
      this.setState({ status: 'failed' });
      this.notice('error', `Could not resume this chat: ${describe(error)}`, true);
      markShown(error);
      throw error;
    }
  }

  private async attachSession(meta: ChatMeta): Promise<ResumeResult> {
    const rpc = await this.server.rpc();
    const handle = await this.store.handle(this.key, meta.sessionId);
    const result = await this.withTrust(() =>
      rpc.resume({
        ...(handle ? { handle } : { sessionId: meta.sessionId }),
        cwd: this.folder.uri.fsPath,
        ...this.setupParams(),
      }),
    );
    this.meta = await this.store.save(
      this.key,
      { sessionId: result.sessionId, provider: result.provider, model: meta.model ?? null },
      result.resumeHandle,
    );
    return result;
  }

  /** What session/start and session/resume share: the permission mode, this workspace's rules, trust. */
  private setupParams(): { permissionMode: 'ask' | 'bypass'; permissionRules: RuleSpec[]; trusted?: boolean } {
    const trusted = this.trust.trusted(this.key);
    // Review: each turn's changed files, their diffs and revert (protocol 1.2; older daemons ignore it).
    const review: Record<string, unknown> = { trackChanges: true };
    return {
      permissionMode: permissionMode(vscode.workspace.getConfiguration('caw', this.folder.uri)),
      permissionRules: this.rules.rules(this.key),
      ...(trusted === undefined ? {} : { trusted }),
      ...review,
    };
  }

  /** Opens the diff editor on one file of a turn (before ↔ after, from session/changes). */
  private async openChange(turnIndex: number, file: string): Promise<void> {
    const sessionId = this.state.sessionId;
    if (!sessionId) return;
    const rpc = await this.server.rpc();
    const { changes } = await rpc.turnChanges(sessionId, turnIndex);
    const change = changes.find((c) => c.path === file);
    if (!change) throw new Error(`turn ${turnIndex} has no change of ${file}`);
    await showChange(this.folder, turnIndex, change);
  }

  /** session/revert: puts the turn's files back; refuses (and says which) when a file changed since. */
  private async revert(turnIndex: number): Promise<void> {
    const sessionId = this.state.sessionId;
    if (!sessionId) return;
    const turn = this.state.entries.flatMap((e) => (e.kind === 'turn' && e.turn.number === turnIndex ? [e.turn] : [])).at(0);
    const files = turn?.changes?.map((c) => c.path) ?? [];
    const go = 'Revert';
    const picked = await vscode.window.showWarningMessage(
      `Revert the changes of this turn?`,
      { modal: true, detail: `These files go back to how they were before the turn:\n${files.map((f) => `• ${f}`).join('\n')}` },
      go,
    );
    if (picked !== go) {
      this.render(); // the button comes back
      return;
    }
    const rpc = await this.server.rpc();
    try {
      const { reverted } = await rpc.revert(sessionId, turnIndex);
      if (turn) turn.reverted = true;
      await this.store.markReverted(this.key, sessionId, turnIndex);
      this.notice('info', `Reverted: ${reverted.join(', ') || 'nothing to put back'}.`);
    } catch (error) {
      if (errorKind(error) !== 'filesChangedSince') throw error;
      const changed = errorData(error)?.files ?? [];
      this.notice(
        'warning',
        `Not reverted: ${changed.length === 1 ? 'this file was' : 'these files were'} changed after the turn: ${changed.join(', ')}. Nothing was written; undo those edits first or revert by hand.`,
      );
      void vscode.window.showWarningMessage(`caw: not reverted, changed since the turn: ${changed.join(', ')}`);
    }
  }

  /**
   * The daemon asks whether a tool may run: a card in the chat (and a notification
   * when the chat is not on screen) until a button answers or the daemon stops waiting.
   */
  askPermission(params: RequestPermissionParams, token: CancellationTokenLike): Promise<RequestPermissionResult> {
    const card = permissionCard(`q${++this.asked}`, params);
    return new Promise<RequestPermissionResult>((resolve) => {
      const question: Question = {
        card,
        params,
        notified: false,
        settle: (result) => {
          if (!this.questions.delete(card.id)) return;
          sub.dispose();
          this.state.permissions = [...this.questions.values()].map((q) => q.card);
          this.render();
          resolve(result);
        },
      };
      const sub = token.onCancellationRequested(() => question.settle(CANCELLED));
      this.questions.set(card.id, question);
      this.state.permissions = [...this.questions.values()].map((q) => q.card);
      this.render();
      if (!this.panel?.visible) this.notifyHidden(question);
    });
  }

  /** A button of a card (or of its notification). */
  async answerPermission(id: string, choice: PermissionChoice): Promise<void> {
    const question = this.questions.get(id);
    if (!question) return; // answered already, or withdrawn
    const rule = workspaceRule(question.params, choice);
    if (rule) await this.rules.add(this.key, rule);
    question.settle(outcomeFor(question.params, choice));
  }

  /** Open questions (tests read them). */
  get pendingPermissions(): PermissionCard[] {
    return [...this.questions.values()].map((q) => q.card);
  }

  private notifyHiddenQuestions(): void {
    if (this.disposed) return;
    for (const q of this.questions.values()) if (!q.notified) this.notifyHidden(q);
  }

  /** The chat is not on screen: a notification says what is asked and answers the simple cases. */
  private notifyHidden(question: Question): void {
    question.notified = true;
    const show = 'Show Chat';
    const allow = CHOICES[0].label;
    const reject = CHOICES[3].label;
    void vscode.window
      .showWarningMessage(`caw (${this.folder.name}): the agent asks to ${describeRequest(question.card)}`, show, allow, reject)
      .then((picked) => {
        if (picked === show) this.show();
        else if (picked === allow) void this.answerPermission(question.card.id, 'once');
        else if (picked === reject) void this.answerPermission(question.card.id, 'reject');
        else if (this.questions.has(question.card.id)) question.notified = false; // dismissed: tell again when hidden again
      });
  }

  /** Sends after the turns already queued here (one turn streams at a time). */
  send(message: string, attachments: PendingAttachment[] = this.takeAttachments()): Promise<Turn | undefined> {
    if (!message.trim()) return Promise.resolve(undefined);
    const next = this.sendQueue.then(() => this.sendNow(message, attachments));
    this.sendQueue = next.catch(() => undefined);
    return next;
  }

  private sendQueue: Promise<unknown> = Promise.resolve();

  /** Files and ranges waiting for the next message (shown above the message box). */
  private pendingAttachments: PendingAttachment[] = [];

  attach(item: PendingAttachment): void {
    const key = attachmentUri(item.attachment);
    if (!this.pendingAttachments.some((a) => attachmentUri(a.attachment) === key)) this.pendingAttachments.push(item);
    this.state.attachments = this.pendingAttachments.map((a) => ({ label: a.label, uri: attachmentUri(a.attachment) }));
    this.render();
    this.panel?.post({ type: 'focus' });
  }

  detach(index: number): void {
    this.pendingAttachments.splice(index, 1);
    this.state.attachments = this.pendingAttachments.map((a) => ({ label: a.label, uri: attachmentUri(a.attachment) }));
    this.render();
  }

  private takeAttachments(): PendingAttachment[] {
    const taken = this.pendingAttachments;
    this.pendingAttachments = [];
    this.state.attachments = [];
    return taken;
  }

  /** The @ completion: workspace files matching what follows the @ (and @selection). */
  private async findFiles(query: string): Promise<void> {
    const glob = query ? `**/*${query.replace(/[[\]{}*?!]/g, '')}*` : '**/*';
    const found = await vscode.workspace.findFiles(new vscode.RelativePattern(this.folder, glob), '**/{node_modules,.git,.venv,venv,dist,out}/**', 40);
    const items = found
      .map((uri) => ({ label: vscode.workspace.asRelativePath(uri, false), uri: uri.toString() }))
      .sort((a, b) => a.label.length - b.label.length || a.label.localeCompare(b.label))
      .slice(0, 20);
    const selection = 'selection'.startsWith(query.toLowerCase()) ? [{ label: 'selection', uri: SELECTION_ITEM, detail: 'the editor\'s selected lines' }] : [];
    this.panel?.post({ type: 'files', query, items: [...selection, ...items] });
  }

  /** The header's model / reasoning picker: session/configure, from the next turn on. */
  private async configure(model: string | undefined, reasoning: string | undefined): Promise<void> {
    const sessionId = this.state.sessionId;
    if (!sessionId) return;
    const rpc = await this.server.rpc();
    const info = await rpc.configure({ sessionId, ...(model !== undefined ? { model } : {}), ...(reasoning !== undefined ? { reasoning } : {}) });
    this.setState({ model: info.model ?? model ?? null, reasoning: optional(info.reasoning) ?? reasoning ?? null });
    await this.choices.remember(this.key, { provider: this.state.provider, model: this.state.model ?? undefined, reasoning: this.state.reasoning ?? undefined });
    this.notice('info', `From the next turn: ${[this.state.model ?? 'the default model', this.state.reasoning ? `reasoning ${this.state.reasoning}` : ''].filter(Boolean).join(', ')}.`);
  }

  /** The providers' models for the header's picker (once per chat view; a failure leaves the picker out). */
  private async loadModels(): Promise<void> {
    if (!this.speaks12 || this.loadingModels) return;
    this.loadingModels = true;
    try {
      const rpc = await this.server.rpc();
      // This chat's provider first (quick); then every provider (a CLI may take seconds to list).
      const provider = this.state.provider;
      if (provider && !this.state.models?.some((p) => p.provider === provider)) this.addModels((await rpc.models(provider)).providers);
      if (!this.allModels) {
        this.addModels((await rpc.models()).providers);
        this.allModels = true;
      }
    } catch {
      // no picker then (or only this provider's); the chat works without it
    } finally {
      this.loadingModels = false;
    }
  }

  private loadingModels = false;
  private allModels = false;

  private addModels(providers: ProviderModels[]): void {
    const listed = new Map((this.state.models ?? []).map((p) => [p.provider, p]));
    for (const p of providers) {
      if (!p.models.length && listed.has(p.provider)) continue;
      listed.set(p.provider, {
        provider: p.provider,
        models: p.models.map((m) => ({ id: m.id, name: optional(m.name) ?? m.id, reasoningLevels: m.reasoningLevels ?? [], isDefault: !!m.isDefault })),
      });
    }
    this.setState({ models: [...listed.values()] });
  }

  private get speaks12(): boolean {
    return atLeast(this.server.capabilities?.protocolVersion, PROTOCOL_CHATS);
  }

  private async sendNow(message: string, attachments: PendingAttachment[]): Promise<Turn | undefined> {
    if (this.reconnecting) {
      // Wait for the restarted daemon, but not forever if it never comes back.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.reconnecting, new Promise((r) => (timer = setTimeout(r, RECONNECT_WAIT_MS)))]);
      clearTimeout(timer);
    }
    if (!this.state.sessionId || this.state.status === 'ended' || this.state.status === 'failed') {
      throw new Error('No chat in this folder: run "caw: New Chat" first.');
    }
    const sessionId = this.state.sessionId;
    const turn: ViewTurn = { input: message, output: [], running: true, ...(attachments.length ? { attachments: attachmentRefs(attachments) } : {}) };
    // A daemon before protocol 1.2 takes no attachments: their text goes into the message.
    const extra: Record<string, unknown> = {};
    if (attachments.length && this.speaks12) extra.attachments = attachments.map((a): Attachment => a.attachment);
    else if (attachments.length) message = await inlineAttachments(message, attachments);
    this.state.entries.push({ kind: 'turn', turn });
    this.sending++;
    this.setState({ status: 'running' });
    const rpc = await this.server.rpc();
    const updates = rpc.onUpdate(({ update }) => {
      if (!turn.running) return;
      applyUpdate(turn, update);
      this.panel?.post({ type: 'update', update });
      // Said once to screen readers: the chat waits (maybe for hours) instead of answering.
      if (turn.wait && update.kind === 'usageLimitWait') this.panel?.post({ type: 'announce', text: usageLimitWaitText(turn.wait) });
    }, sessionId);
    const token = `caw-${crypto.randomUUID()}`;
    try {
      const result = await this.server.withTurnProgress(token, () =>
        rpc.send({ sessionId, message, workDoneToken: token, ...extra }),
      );
      endWait(turn); // sent again (the answer streamed nothing)
      Object.assign(turn, viewTurn(result.turn));
      this.completedTurns++;
      this.meta = await this.store.save(
        this.key,
        {
          sessionId,
          provider: this.state.provider ?? this.meta?.provider ?? '',
          model: this.state.model ?? null,
          title: this.meta && this.meta.title !== 'New chat' ? this.meta.title : titleOf(message),
        },
        result.resumeHandle,
      );
      this.state.title = this.meta.title;
      this.panel?.post({ type: 'announce', text: announcement(turn) });
      return result.turn;
    } catch (error) {
      turn.running = false;
      if (isCancelled(error) && turn.wait) {
        // Cancelled while waiting for the usage limit: the attempt before the wait is void.
        endWait(turn, true);
        turn.stopReason = 'cancelled';
      } else if (isCancelled(error)) {
        const partial = errorData(error)?.turn;
        if (partial) Object.assign(turn, viewTurn(partial));
        turn.stopReason = 'cancelled';
      } else if (isConnectionLost(error) || !this.server.running || this.reconnecting) {
        turn.stopReason = 'interrupted';
        turn.error = 'caw-server stopped while this turn ran.';
      } else {
        turn.stopReason = 'error';
        turn.error = errorKind(error) === 'usageLimit' ? usageLimitError(describe(error)) : describe(error);
      }
      // Shown once, in the turn, with Retry.
      if (turn.stopReason === 'error') this.panel?.post({ type: 'announce', text: `The turn failed: ${turn.error ?? ''}` });
      return undefined;
    } finally {
      updates.dispose();
      turn.running = false;
      this.sending--;
      if (this.state.status === 'running' && this.sending === 0) this.state.status = 'idle';
      this.render();
    }
  }

  async cancel(): Promise<boolean> {
    if (!this.state.sessionId || !this.busy) return false;
    const rpc = await this.server.rpc();
    return (await rpc.cancel(this.state.sessionId)).cancelled;
  }

  async end(): Promise<void> {
    const sessionId = this.state.sessionId;
    if (!sessionId) return;
    try {
      const rpc = await this.server.rpc();
      await rpc.end(sessionId);
    } finally {
      await this.store.markEnded(this.key, sessionId);
      this.setState({ status: 'ended' });
      this.notice('info', 'Chat ended. Resume it with "caw: Resume Chat…" or start a new one.');
    }
  }

  private daemonStopped(restarting: boolean): void {
    // Nobody waits for these any more.
    for (const q of [...this.questions.values()]) q.settle(CANCELLED);
    if (!this.state.sessionId || this.state.status === 'ended') return;
    const running = runningTurn(this.state.entries);
    if (running) {
      running.running = false;
      running.stopReason = 'interrupted';
      running.error = 'caw-server stopped while this turn ran.';
    }
    this.setState({ status: restarting ? 'reconnecting' : 'failed' });
    this.notice(
      restarting ? 'warning' : 'error',
      restarting ? 'caw-server stopped. Restarting it and resuming this chat…' : 'caw-server stopped and will not be restarted.',
    );
    if (restarting) {
      // Sends wait for this; it settles once the new daemon has the session.
      let done!: () => void;
      this.reconnecting = new Promise<void>((resolve) => (done = resolve));
      this.reconnectDone = done;
    }
  }

  private reconnectDone?: () => void;

  /** After the daemon restarted: attach the session again, keeping what the view shows. */
  private async reconnect(): Promise<void> {
    if (!this.meta || this.state.status === 'ended') return;
    try {
      await this.attachSession(this.meta);
      this.setState({ status: this.busy ? 'running' : 'idle' });
      this.notice('info', 'caw-server restarted; chat resumed with its earlier context.');
    } catch (error) {
      this.setState({ status: 'failed' });
      this.notice('error', `caw-server restarted but this chat could not be resumed: ${describe(error)}`);
    } finally {
      this.reconnecting = undefined;
      this.reconnectDone?.();
      this.reconnectDone = undefined;
    }
  }

  /** A line in the chat; `retry`: it offers to run the failed start or resume again. */
  /** Renamed from the chat list. */
  retitle(title: string): void {
    if (this.meta) this.meta = { ...this.meta, title };
    this.setState({ title });
  }

  /** The shown chat was deleted: the view goes back to empty. */
  clear(): void {
    this.meta = undefined;
    this.pendingAttachments = [];
    this.setState({ status: 'empty', sessionId: undefined, title: undefined, entries: [], attachments: [] });
  }

  notice(level: NoticeLevel, text: string, retry = false): void {
    for (const e of this.state.entries) if (e.kind === 'notice') delete e.retry; // only the latest failure is retried
    this.state.entries.push({ kind: 'notice', level, text, ...(retry ? { retry: true } : {}) });
    this.render();
  }

  private retry(): void {
    const again = this.lastAction;
    if (again) again().catch(() => undefined); // shown in the chat
  }

  private setState(patch: Partial<ChatViewState>): void {
    Object.assign(this.state, patch);
    this.render();
  }

  render(): void {
    this.panel?.post({ type: 'state', state: this.state });
  }

  dispose(): void {
    this.disposed = true;
    for (const q of [...this.questions.values()]) q.settle(CANCELLED);
    this.panel?.dispose();
    for (const d of this.disposables) d.dispose();
  }

  /** From the webview. */
  handleMessage(message: FromWebview): void {
    switch (message.type) {
      case 'ready':
        this.render();
        break;
      case 'send':
        this.send(message.text).catch((error: unknown) => {
          if (!isConnectionLost(error) && this.server.running && !this.reconnecting) this.notice('error', describe(error));
        });
        break;
      case 'retry':
        this.retry();
        break;
      case 'openChange':
        this.openChange(message.turn, message.path).catch((error: unknown) => this.notice('error', `Showing the change failed: ${describe(error)}`));
        break;
      case 'revert':
        this.revert(message.turn).catch((error: unknown) => this.notice('error', `Revert failed: ${describe(error)}`));
        break;
      case 'openAttachment':
        void vscode.window.showTextDocument(vscode.Uri.parse(message.uri.replace(/#.*$/, '')), { preview: true, viewColumn: vscode.ViewColumn.One });
        break;
      case 'detach':
        this.detach(message.index);
        break;
      case 'attachActive':
        void vscode.commands.executeCommand('caw.attachActiveEditor', this.folder);
        break;
      case 'findFiles':
        this.findFiles(message.query).catch(() => undefined);
        break;
      case 'pick':
        void vscode.commands.executeCommand(message.item.uri === SELECTION_ITEM ? 'caw.addSelection' : 'caw.attachFile', this.folder, message.item.uri);
        break;
      case 'configure':
        this.configure(message.model, message.reasoning).catch((error: unknown) => this.notice('error', `Could not change the model: ${describe(error)}`));
        break;
      case 'switchProvider':
        void vscode.commands.executeCommand('caw.switchProvider', this.folder, message.provider);
        break;
      case 'code':
        runCodeAction(message.action, message.code, this.folder, message.file).catch((error: unknown) =>
          this.notice('error', `${message.action}: ${describe(error)}`),
        );
        break;
      case 'cancel':
        this.cancel().catch((error: unknown) => this.notice('error', `Cancel failed: ${describe(error)}`));
        break;
      case 'newChat':
        void vscode.commands.executeCommand('caw.newChat', this.folder);
        break;
      case 'permission':
        if (isChoice(message.choice)) {
          this.answerPermission(message.id, message.choice).catch((error: unknown) => this.notice('error', `Answering failed: ${describe(error)}`));
        }
        break;
    }
  }
}

function attachmentUri(a: Attachment): string {
  return a.type === 'resource_link' ? a.uri : a.resource.uri;
}

/** The `@selection` entry of the @ completion. */
export const SELECTION_ITEM = 'caw:selection';

function describe(error: unknown): string {
  const data = errorData(error);
  let text = withHint(errorMessage(error), data?.installHint);
  if (data?.stderrTail) text += `\n${data.stderrTail}`;
  return text;
}

/** What a screen reader hears when an answer is finished (the live region holds only this). */
function announcement(turn: ViewTurn): string {
  const text = turn.output
    .flatMap((b) => (b.type === 'text' ? [b.text] : []))
    .join('\n')
    .trim();
  return text ? `Answer: ${text.length > 1000 ? `${text.slice(0, 1000)}…` : text}` : 'The agent finished.';
}

class ChatPanel {
  private readonly panel: vscode.WebviewPanel;
  private ready = false;
  private pending: ToWebview[] = [];

  constructor(
    private readonly chat: Chat,
    extensionUri: vscode.Uri,
    preserveFocus: boolean,
    restored?: vscode.WebviewPanel,
  ) {
    const media = vscode.Uri.joinPath(extensionUri, 'media');
    const dist = vscode.Uri.joinPath(extensionUri, 'dist');
    const options = { enableScripts: true, retainContextWhenHidden: true, localResourceRoots: [media, dist] };
    // Beside the editor being worked on; with no editor open, in the active group (not beside an empty one).
    const column = vscode.window.activeTextEditor ? vscode.ViewColumn.Beside : vscode.ViewColumn.Active;
    this.panel = restored ?? vscode.window.createWebviewPanel(CHAT_VIEW_TYPE, `caw: ${chat.folder.name}`, { viewColumn: column, preserveFocus }, options);
    if (restored) restored.webview.options = options;
    this.panel.iconPath = vscode.Uri.joinPath(media, 'caw.svg');
    const webview = this.panel.webview;
    webview.html = chatHtml(webview, webview.asWebviewUri(vscode.Uri.joinPath(dist, 'webview.js')), webview.asWebviewUri(vscode.Uri.joinPath(media, 'chat.css')));
    webview.onDidReceiveMessage((m: FromWebview) => {
      if (m.type === 'ready') {
        this.ready = true;
        for (const p of this.pending.splice(0)) void webview.postMessage(p);
      }
      chat.handleMessage(m);
    });
  }

  onDidDispose(listener: () => void): void {
    this.panel.onDidDispose(listener);
  }

  /** The panel went off screen (another tab in its group, or its group hidden). */
  onDidHide(listener: () => void): void {
    this.panel.onDidChangeViewState((e) => {
      if (!e.webviewPanel.visible) listener();
    });
  }

  get visible(): boolean {
    return this.panel.visible;
  }

  reveal(preserveFocus: boolean): void {
    this.panel.reveal(undefined, preserveFocus);
  }

  post(message: ToWebview): void {
    if (!this.ready) {
      // Until the page listens, only the latest state matters.
      if (message.type === 'state') this.pending = this.pending.filter((p) => p.type !== 'state' && p.type !== 'update');
      this.pending.push(message.type === 'state' ? { type: 'state', state: this.chat.snapshot() } : message);
      return;
    }
    void this.panel.webview.postMessage(message);
  }

  dispose(): void {
    this.panel.dispose();
  }
}

export function chatHtml(webview: vscode.Webview, script: vscode.Uri, style: vscode.Uri): string {
  const nonce = crypto.randomBytes(16).toString('base64');
  // Strict CSP: no inline script or style, only this extension's files.
  const csp = [
    "default-src 'none'",
    `style-src ${webview.cspSource}`,
    `font-src ${webview.cspSource}`,
    `img-src ${webview.cspSource} data:`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style.toString()}">
<title>caw</title>
</head>
<body>
<header id="header">
  <span id="title">caw</span><span id="meta"></span>
  <select id="pick-provider" aria-label="Provider (a change starts a new chat)" hidden></select>
  <select id="pick-model" aria-label="Model" hidden></select>
  <select id="pick-reasoning" aria-label="Reasoning effort" hidden></select>
  <span id="totals" title="Tokens and cost of this chat"></span><meter id="context-meter" min="0" max="1" low="0.7" high="0.9" optimum="0" hidden></meter><span id="status"></span>
</header>
<main id="transcript" role="log" aria-live="off" aria-label="Chat transcript"></main>
<div id="announce" class="sr-only" role="status" aria-live="polite" aria-atomic="true"></div>
<section id="permissions" aria-live="assertive" hidden></section>
<div id="chips" aria-label="Attached to the next message" hidden></div>
<footer id="composer">
  <div id="completions" class="completions" hidden></div>
  <!-- Disabled until the first state arrives: a message sent before the chat has its session would be lost. -->
  <textarea id="input" rows="3" placeholder="Ask the agent… (Enter to send, Shift+Enter for a new line, @ to attach a file, Esc to stop)" aria-label="Message" disabled></textarea>
  <div id="buttons">
    <button id="send" type="button" disabled>Send</button>
    <button id="attach" type="button" class="secondary" title="Attach the active editor's file to the next message" disabled>Attach file</button>
    <button id="cancel" type="button" class="secondary" hidden>Cancel</button>
    <button id="new" type="button" class="secondary" hidden>New chat</button>
  </div>
</footer>
<script nonce="${nonce}" src="${script.toString()}"></script>
</body>
</html>`;
}
