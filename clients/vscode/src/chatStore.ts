// Where each workspace folder's chats are remembered. The resume handle is a
// credential (it grants resuming the conversation), so it goes to
// SecretStorage; everything else is plain metadata in workspaceState.
// Written against two small interfaces so it is tested without VS Code.

export interface SecretStore {
  get(key: string): PromiseLike<string | undefined>;
  store(key: string, value: string): PromiseLike<void>;
  delete(key: string): PromiseLike<void>;
}

export interface StateStore {
  get(key: string): unknown;
  update(key: string, value: unknown): PromiseLike<void>;
}

export interface ChatMeta {
  sessionId: string;
  provider: string;
  model?: string | null;
  title: string;
  /** ISO time of the last start, send or resume. */
  lastUsed: string;
  /** Ended with `caw: End Chat`: still resumable by hand, not reopened by itself. */
  ended?: boolean;
  /** Turns (numbers from 1) whose changes were reverted: their Revert button stays away. */
  reverted?: number[];
}

type ChatIndex = Record<string, ChatMeta[]>;

export const STATE_KEY = 'caw.chats.v1';
const SECRET_PREFIX = 'caw.handle.v1';
/** Chats remembered per folder; older ones (and their handles) are dropped. */
export const MAX_CHATS_PER_FOLDER = 50;

export function secretKey(folder: string, sessionId: string): string {
  return `${SECRET_PREFIX}:${folder}:${sessionId}`;
}

export class ChatStore {
  // Serializes read-modify-write of the index: two chats may save at once.
  private queue: Promise<unknown> = Promise.resolve();
  /** Called after every change of the index (the chat list redraws). */
  onChange?: () => void;

  constructor(
    private readonly secrets: SecretStore,
    private readonly state: StateStore,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** This folder's chats, most recently used first. */
  chats(folder: string): ChatMeta[] {
    const list = this.index()[folder] ?? [];
    return [...list].sort((a, b) => b.lastUsed.localeCompare(a.lastUsed));
  }

  get(folder: string, sessionId: string): ChatMeta | undefined {
    return this.chats(folder).find((c) => c.sessionId === sessionId);
  }

  /** The chat to reopen with the workspace: the most recently used one not ended. */
  lastChat(folder: string): ChatMeta | undefined {
    return this.chats(folder).find((c) => !c.ended);
  }

  handle(folder: string, sessionId: string): Promise<string | undefined> {
    return Promise.resolve(this.secrets.get(secretKey(folder, sessionId)));
  }

  /** Records (or refreshes) a chat; `handle`, when given, replaces the stored one. */
  save(
    folder: string,
    chat: Omit<ChatMeta, 'lastUsed' | 'title'> & { title?: string },
    handle?: string | null,
  ): Promise<ChatMeta> {
    return this.serialized(async () => {
      if (handle) await this.secrets.store(secretKey(folder, chat.sessionId), handle);
      const index = this.index();
      const list = index[folder] ?? [];
      const old = list.find((c) => c.sessionId === chat.sessionId);
      const meta: ChatMeta = {
        ...old,
        ...chat,
        title: chat.title || old?.title || 'New chat',
        lastUsed: this.now().toISOString(),
      };
      if (chat.ended === undefined) delete meta.ended;
      const kept = [meta, ...list.filter((c) => c.sessionId !== chat.sessionId)].sort((a, b) =>
        b.lastUsed.localeCompare(a.lastUsed),
      );
      const dropped = kept.splice(MAX_CHATS_PER_FOLDER);
      for (const d of dropped) await this.secrets.delete(secretKey(folder, d.sessionId));
      await this.state.update(STATE_KEY, { ...index, [folder]: kept });
      return meta;
    });
  }

  markReverted(folder: string, sessionId: string, turn: number): Promise<void> {
    return this.serialized(async () => {
      const index = this.index();
      const list = index[folder] ?? [];
      const next = list.map((c) => (c.sessionId === sessionId ? { ...c, reverted: [...new Set([...(c.reverted ?? []), turn])] } : c));
      await this.state.update(STATE_KEY, { ...index, [folder]: next });
    });
  }

  markEnded(folder: string, sessionId: string): Promise<void> {
    return this.serialized(async () => {
      const index = this.index();
      const list = index[folder] ?? [];
      if (!list.some((c) => c.sessionId === sessionId)) return;
      const next = list.map((c) => (c.sessionId === sessionId ? { ...c, ended: true } : c));
      await this.state.update(STATE_KEY, { ...index, [folder]: next });
    });
  }

  /** Forgets a chat and deletes its handle. */
  forget(folder: string, sessionId: string): Promise<void> {
    return this.serialized(async () => {
      await this.secrets.delete(secretKey(folder, sessionId));
      const index = this.index();
      const list = (index[folder] ?? []).filter((c) => c.sessionId !== sessionId);
      const next = Object.fromEntries(Object.entries(index).filter(([f]) => f !== folder));
      if (list.length) next[folder] = list;
      await this.state.update(STATE_KEY, next);
    });
  }

  private index(): ChatIndex {
    const raw = this.state.get(STATE_KEY);
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return {};
    const index: ChatIndex = {};
    for (const [folder, list] of Object.entries(raw as Record<string, unknown>)) {
      if (!Array.isArray(list)) continue;
      index[folder] = list.filter(
        (c): c is ChatMeta =>
          !!c &&
          typeof c === 'object' &&
          typeof (c as ChatMeta).sessionId === 'string' &&
          typeof (c as ChatMeta).provider === 'string' &&
          typeof (c as ChatMeta).lastUsed === 'string',
      );
    }
    return index;
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work).finally(() => this.onChange?.());
    this.queue = next.catch(() => undefined);
    return next;
  }
}
