// The activity-bar list of chats: every chat of each workspace folder (from the
// daemon's session/list, plus chats this workspace remembers by handle), with
// title, provider, last activity, turns and cost. A click opens the chat.
import * as vscode from 'vscode';
import { dollars, optional } from './chatModel';
import type { ChatMeta, ChatStore } from './chatStore';
import type { SessionInfo } from './protocol';
import type { CawServer } from './server';

/** SessionInfo with protocol 1.2's fields, read when the daemon sends them. */
type Listed = SessionInfo & { turnCount?: number | null; totalCostUsd?: number | null; lastActivity?: string | null };

export interface ChatItem {
  folder: vscode.WorkspaceFolder;
  meta: ChatMeta;
  turns?: number;
  costUsd?: number;
  lastActivity: string;
  live: boolean;
}

export function costLabel(usd: number | null | undefined): string | undefined {
  return usd === undefined || usd === null ? undefined : dollars(usd);
}

export class ChatsView implements vscode.TreeDataProvider<ChatItem | vscode.WorkspaceFolder> {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  filter = '';

  constructor(
    private readonly server: CawServer,
    private readonly store: ChatStore,
  ) {}

  refresh(): void {
    this.changed.fire();
  }

  getTreeItem(element: ChatItem | vscode.WorkspaceFolder): vscode.TreeItem {
    if (!('meta' in element)) {
      const item = new vscode.TreeItem(element.name, vscode.TreeItemCollapsibleState.Expanded);
      item.iconPath = vscode.ThemeIcon.Folder;
      return item;
    }
    const { meta } = element;
    const item = new vscode.TreeItem(meta.title || meta.sessionId, vscode.TreeItemCollapsibleState.None);
    const parts = [meta.provider, element.turns !== undefined ? `${element.turns} turns` : undefined, costLabel(element.costUsd), relative(element.lastActivity)];
    item.description = parts.filter(Boolean).join(' · ');
    item.tooltip = new vscode.MarkdownString(
      `**${meta.title || meta.sessionId}**\n\n${meta.provider}${meta.model ? ` · ${meta.model}` : ''}\n\nlast activity ${new Date(element.lastActivity).toLocaleString()}${element.live ? ' · live' : ''}`,
    );
    item.iconPath = new vscode.ThemeIcon(element.live ? 'comment-discussion' : 'comment');
    item.contextValue = 'caw.chat';
    item.id = `${element.folder.uri.toString()}#${meta.sessionId}`;
    item.command = { command: 'caw.openChat', title: 'Open Chat', arguments: [element.folder.uri.toString(), meta.sessionId] };
    item.accessibilityInformation = { label: `${meta.title}, ${item.description}` };
    return item;
  }

  async getChildren(element?: ChatItem | vscode.WorkspaceFolder): Promise<(ChatItem | vscode.WorkspaceFolder)[]> {
    const folders = vscode.workspace.workspaceFolders ?? [];
    if (!element) return folders.length === 1 ? this.chats(folders[0]) : [...folders];
    if ('meta' in element) return [];
    return this.chats(element);
  }

  /** Every chat of a folder, most recent first, narrowed by the search filter. */
  async chats(folder: vscode.WorkspaceFolder): Promise<ChatItem[]> {
    const known = new Map(this.store.chats(folder.uri.toString()).map((c) => [c.sessionId, c]));
    const items = new Map<string, ChatItem>();
    if (this.server.state === 'ready') {
      try {
        const rpc = await this.server.rpc();
        for (const s of (await rpc.list(folder.uri.fsPath)).sessions as Listed[]) {
          const old = known.get(s.sessionId);
          items.set(s.sessionId, {
            folder,
            meta: { sessionId: s.sessionId, provider: s.provider, model: s.model ?? null, title: s.title || old?.title || s.sessionId, lastUsed: s.updatedAt },
            turns: s.turnCount ?? s.numTurns,
            costUsd: s.totalCostUsd ?? undefined,
            lastActivity: optional(s.lastActivity) ?? s.updatedAt,
            live: s.live,
          });
        }
      } catch {
        // the remembered ones below still show
      }
    }
    for (const meta of known.values()) {
      if (!items.has(meta.sessionId)) items.set(meta.sessionId, { folder, meta, lastActivity: meta.lastUsed, live: false });
    }
    const needle = this.filter.toLowerCase();
    return [...items.values()]
      .filter((i) => !needle || `${i.meta.title} ${i.meta.provider} ${i.meta.model ?? ''}`.toLowerCase().includes(needle))
      .sort((a, b) => b.lastActivity.localeCompare(a.lastActivity));
  }

  dispose(): void {
    this.changed.dispose();
  }
}

function relative(iso: string): string | undefined {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return undefined;
  const s = Math.max(0, (Date.now() - t) / 1000);
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(t).toLocaleDateString();
}
