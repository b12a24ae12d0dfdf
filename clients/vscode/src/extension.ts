// caw for VS Code: a chat per workspace folder with caw-server's coding agents,
// reopened with the workspace and resumed when the daemon restarts.
import * as vscode from 'vscode';
import { alreadyShown, Chat, CHAT_VIEW_TYPE } from './chat';
import { type ChatMeta, ChatStore } from './chatStore';
import type { ChatViewState } from './chatModel';
import { ChatsView } from './chatsView';
import { registerCodeActions } from './codeActions';
import { healthWarning } from './health';
import { INSTALL_COMMAND, PIPX_COMMAND } from './installHint';
import { PermissionRules } from './permissionRules';
import { CANCELLED, type PermissionCard } from './permissions';
import type { RuleSpec } from './protocol';
import { CawServer, ServerNotFound, type ServerState } from './server';
import { errorMessage } from './rpc';
import { selectionLabel } from './selection';
import { TrustDecisions } from './trust';
import { fileAttachment, type PendingAttachment, selectionAttachment } from './attachments';
import { ModelChoices } from './modelChoices';
import { registerReview } from './review';
import { autoWait, autoWaitStatus } from './autoWait';

/** What activate() returns; the end-to-end tests read it. Not a stable API. */
export interface CawExtensionApi {
  chat(folder: vscode.Uri): { state: ChatViewState; completedTurns: number; busy: boolean } | undefined;
  storedChats(folder: vscode.Uri): ChatMeta[];
  storedHandle(folder: vscode.Uri, sessionId: string): Promise<string | undefined>;
  serverStarts(): number;
  /** The folder's "Always in this workspace" rules. */
  permissionRules(folder: vscode.Uri): RuleSpec[];
  /** Permission questions waiting in the folder's chat. */
  pendingPermissions(folder: vscode.Uri): PermissionCard[];
  /** Settles when the chats restored at startup are shown (or failed). */
  restored: Promise<void>;
}

let activeServer: CawServer | undefined;

export function activate(context: vscode.ExtensionContext): CawExtensionApi {
  const output = vscode.window.createOutputChannel('caw');
  const server = new CawServer(output);
  activeServer = server;
  const store = new ChatStore(context.secrets, context.workspaceState);
  const rules = new PermissionRules(context.workspaceState);
  const trust = new TrustDecisions(context.workspaceState);
  const choices = new ModelChoices(context.workspaceState);
  const chats = new Map<string, Chat>();
  context.subscriptions.push(output, registerCodeActions(), registerReview());

  // The daemon's state (starting / ready / not found / restarting / stopped); a click does what fixes it.
  const status = vscode.window.createStatusBarItem('caw.status', vscode.StatusBarAlignment.Right, 100);
  status.name = 'caw';
  status.command = 'caw.statusAction';
  const showStatus = (state: ServerState): void => {
    const [icon, label, tip] = STATUS[state];
    status.text = `${icon} ${label}`;
    // The tooltip also says whether a usage limit is waited out (the setting the daemon starts with).
    status.tooltip = `${tip}\n\n${autoWaitStatus(autoWait(vscode.workspace.getConfiguration('caw')))}`;
    status.backgroundColor = state === 'notFound' || state === 'stopped' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
    status.accessibilityInformation = { label: `caw: ${tip}` };
    status.show();
  };
  context.subscriptions.push(status, server.onState(showStatus));
  showStatus(server.state);
  server.check(); // a missing daemon shows at once, before a chat fails on it

  lastTextEditor = vscode.window.activeTextEditor;
  context.subscriptions.push(
    vscode.window.onDidChangeActiveTextEditor((e) => {
      if (e?.document.uri.scheme === 'file') lastTextEditor = e;
    }),
  );
  const chatsView = new ChatsView(server, store);
  const chatsTree = vscode.window.createTreeView('caw.chats', { treeDataProvider: chatsView, showCollapseAll: false });
  store.onChange = () => chatsView.refresh();
  context.subscriptions.push(chatsView, chatsTree, server.onState(() => chatsView.refresh()));

  const chatFor = (folder: vscode.WorkspaceFolder): Chat => {
    let chat = chats.get(folder.uri.toString());
    if (!chat) {
      chat = new Chat(folder, server, store, rules, trust, choices, context.extensionUri);
      chats.set(folder.uri.toString(), chat);
      context.subscriptions.push(chat);
    }
    return chat;
  };

  // Each question goes to the chat that shows its session; a session no chat shows is not allowed.
  context.subscriptions.push(
    server.handlePermissions((params, token) => {
      const chat = [...chats.values()].find((c) => c.sessionId === params.sessionId);
      return chat ? chat.askPermission(params, token) : Promise.resolve(CANCELLED);
    }),
  );

  const report = (error: unknown): void => {
    if (alreadyShown(error)) return; // the chat shows it, with Retry
    if (error instanceof ServerNotFound) {
      void vscode.window.showErrorMessage(error.message, 'Fix…').then((choice) => {
        if (choice) void vscode.commands.executeCommand('caw.statusAction');
      });
    } else {
      void vscode.window.showErrorMessage(`caw: ${errorMessage(error)}`);
    }
  };

  const command = (id: string, run: (...args: unknown[]) => Promise<unknown>): void => {
    context.subscriptions.push(
      vscode.commands.registerCommand(id, async (...args: unknown[]) => {
        try {
          return await run(...args);
        } catch (error) {
          report(error);
          return undefined;
        }
      }),
    );
  };

  command('caw.newChat', async (arg, providerArg) => {
    const folder = await pickFolder(arg);
    if (!folder) return;
    const config = vscode.workspace.getConfiguration('caw', folder.uri);
    const remembered = choices.get(folder.uri.toString());
    let provider = typeof providerArg === 'string' ? providerArg : config.get<string>('provider', '') || remembered.provider || '';
    if (!provider) {
      await server.rpc(); // providers come from initialize
      provider = (await pickProvider(server)) ?? '';
      if (!provider) return;
    }
    const chat = chatFor(folder);
    if (chat.busy) {
      // A running turn is never cancelled unasked.
      const stop = 'Cancel It and Start';
      const picked = await vscode.window.showWarningMessage('caw: a turn is still running in this chat.', { modal: true }, stop);
      if (picked !== stop) return;
      await chat.cancel().catch(() => undefined);
    }
    chat.show();
    // The header's last pick in this folder, for the same provider; else the settings.
    const same = remembered.provider === provider;
    await chat.start(provider, (same ? remembered.model : undefined) ?? (config.get<string>('model', '') || undefined), same ? remembered.reasoning : undefined);
  });

  command('caw.switchProvider', async (arg, provider) => {
    const folder = await pickFolder(arg);
    if (!folder || typeof provider !== 'string') return;
    const go = `Start a New ${provider} Chat`;
    const picked = await vscode.window.showInformationMessage(
      `caw: switching to ${provider} starts a new chat; this one stays in the chat list and can be resumed.`,
      { modal: true },
      go,
    );
    if (picked !== go) {
      chatFor(folder).render(); // the picker shows the current provider again
      return;
    }
    await choices.remember(folder.uri.toString(), { provider });
    await vscode.commands.executeCommand('caw.newChat', folder, provider);
  });

  /** The folder's chat with a session, started first if there is none. */
  const usableChat = async (folder: vscode.WorkspaceFolder): Promise<Chat | undefined> => {
    const chat = chatFor(folder);
    if (!chat.sessionId || chat.status === 'ended' || chat.status === 'failed') {
      await vscode.commands.executeCommand('caw.newChat', folder);
      if (!chat.sessionId) return undefined;
    }
    return chat;
  };

  /** Attaches what `attachment` takes from the last editor to its folder's chat (for the next message). */
  const attachFromEditor = async (arg: unknown, noEditor: string, attachment: (editor: vscode.TextEditor) => PendingAttachment) => {
    const editor = lastEditor();
    if (!editor) {
      void vscode.window.showInformationMessage(noEditor);
      return;
    }
    const folder = (arg && typeof arg === 'object' && 'index' in arg ? (arg as vscode.WorkspaceFolder) : undefined) ?? vscode.workspace.getWorkspaceFolder(editor.document.uri) ?? (await pickFolder());
    if (!folder) return;
    const chat = await usableChat(folder);
    if (!chat) return;
    chat.show();
    chat.attach(attachment(editor));
  };

  command('caw.addSelection', (arg) => attachFromEditor(arg, 'caw: open a file and select some lines first.', selectionAttachment));
  command('caw.attachActiveEditor', (arg) =>
    attachFromEditor(arg, 'caw: no editor to attach; open a file first.', (editor) => fileAttachment(editor.document.uri)),
  );

  command('caw.attachFile', async (arg, uri) => {
    const folder = await pickFolder(arg);
    if (!folder || typeof uri !== 'string') return;
    chatFor(folder).attach(fileAttachment(vscode.Uri.parse(uri)));
  });

  command('caw.renameChat', async (item) => {
    const target = chatItem(item);
    if (!target) return;
    const title = await vscode.window.showInputBox({ title: 'caw: rename chat', value: target.meta.title, validateInput: (v) => (v.trim() ? undefined : 'A title, please') });
    if (!title?.trim()) return;
    const rpc = await server.rpc();
    await rpc.rename(target.meta.sessionId, title.trim());
    await store.save(target.folder.uri.toString(), { sessionId: target.meta.sessionId, provider: target.meta.provider, model: target.meta.model ?? null, title: title.trim() });
    const chat = chats.get(target.folder.uri.toString());
    if (chat?.sessionId === target.meta.sessionId) chat.retitle(title.trim());
  });

  command('caw.deleteChat', async (item) => {
    const target = chatItem(item);
    if (!target) return;
    const del = 'Delete';
    const picked = await vscode.window.showWarningMessage(
      `Delete the chat "${target.meta.title}"?`,
      { modal: true, detail: 'Its history in the data dir and its resume handle are removed; this cannot be undone. Files the agent changed stay as they are.' },
      del,
    );
    if (picked !== del) return;
    const chat = chats.get(target.folder.uri.toString());
    if (chat?.sessionId === target.meta.sessionId) {
      if (chat.busy) await chat.cancel().catch(() => undefined);
      chat.clear();
    }
    const rpc = await server.rpc();
    await rpc.delete(target.meta.sessionId);
    await store.forget(target.folder.uri.toString(), target.meta.sessionId);
  });

  command('caw.sendSelection', async () => {
    const editor = vscode.window.activeTextEditor;
    if (!editor || editor.selection.isEmpty) {
      void vscode.window.showInformationMessage('caw: select some text first.');
      return;
    }
    const folder = vscode.workspace.getWorkspaceFolder(editor.document.uri) ?? (await pickFolder());
    if (!folder) return;
    const chat = chatFor(folder);
    if (!chat.sessionId || chat.status === 'ended' || chat.status === 'failed') {
      await vscode.commands.executeCommand('caw.newChat', folder);
      if (!chat.sessionId) return;
    }
    chat.show(true);
    const sel = editor.selection;
    const where = selectionLabel(vscode.workspace.asRelativePath(editor.document.uri, false), sel.start, sel.end);
    const fence = '```';
    const code = editor.document.getText(sel).replace(/\s+$/, '');
    const text = `From ${where}:\n${fence}${editor.document.languageId}\n${code}\n${fence}`;
    await chat.send(text);
  });

  command('caw.resumeChat', async (arg) => {
    const folder = await pickFolder(arg);
    if (!folder) return;
    const rpc = await server.rpc();
    const listed = (await rpc.list(folder.uri.fsPath)).sessions;
    const known = new Map(store.chats(folder.uri.toString()).map((c) => [c.sessionId, c]));
    type Item = vscode.QuickPickItem & { meta: ChatMeta };
    const items: Item[] = listed.map((s) => ({
      label: s.title || known.get(s.sessionId)?.title || s.sessionId,
      description: `${s.provider}${s.model ? ` · ${s.model}` : ''} · ${s.numTurns ?? 0} turns`,
      detail: `updated ${new Date(s.updatedAt).toLocaleString()}${s.live ? ' · live' : ''}`,
      meta: { sessionId: s.sessionId, provider: s.provider, model: s.model ?? null, title: s.title ?? '', lastUsed: s.updatedAt },
    }));
    // Chats this workspace knows whose data dir entry is gone (no data dir): resumable by handle.
    for (const meta of known.values()) {
      if (!listed.some((s) => s.sessionId === meta.sessionId)) {
        items.push({ label: meta.title, description: `${meta.provider} · by handle`, detail: `last used ${new Date(meta.lastUsed).toLocaleString()}`, meta });
      }
    }
    if (!items.length) {
      void vscode.window.showInformationMessage(`caw: no chats to resume in ${folder.name}.`);
      return;
    }
    const picked = await vscode.window.showQuickPick(items, {
      title: `Resume a chat in ${folder.name}`,
      placeHolder: 'Chat to resume',
      matchOnDescription: true,
    });
    if (!picked) return;
    const chat = chatFor(folder);
    chat.show();
    await chat.resume(known.get(picked.meta.sessionId) ?? picked.meta);
  });

  command('caw.openChat', async (folderUri, sessionId) => {
    const folder = typeof folderUri === 'string' ? vscode.workspace.getWorkspaceFolder(vscode.Uri.parse(folderUri)) : undefined;
    if (!folder || typeof sessionId !== 'string') return;
    const chat = chatFor(folder);
    if (chat.sessionId === sessionId && chat.status !== 'failed') {
      chat.show();
      return;
    }
    if (chat.busy) {
      const stop = 'Cancel It and Open';
      const picked = await vscode.window.showWarningMessage('caw: a turn is still running in the chat shown.', { modal: true }, stop);
      if (picked !== stop) return;
      await chat.cancel().catch(() => undefined);
    }
    const items = await chatsView.chats(folder);
    const meta = store.get(folder.uri.toString(), sessionId) ?? items.find((i) => i.meta.sessionId === sessionId)?.meta;
    if (!meta) return;
    chat.show();
    await chat.resume(meta);
  });

  command('caw.refreshChats', () => Promise.resolve(chatsView.refresh()));

  command('caw.searchChats', async () => {
    const text = await vscode.window.showInputBox({ title: 'caw: search chats', prompt: 'Title, provider or model (empty: show all)', value: chatsView.filter });
    if (text === undefined) return;
    chatsView.filter = text.trim();
    chatsTree.message = chatsView.filter ? `Chats matching "${chatsView.filter}"` : undefined;
    chatsView.refresh();
  });

  command('caw.cancel', async () => {
    const chat = activeChat(chats);
    if (!chat || !(await chat.cancel())) void vscode.window.setStatusBarMessage('caw: no turn is running', 3000);
  });

  command('caw.endChat', async () => {
    const chat = activeChat(chats);
    if (chat?.sessionId) await chat.end();
  });

  command('caw.showChat', async (arg) => {
    const folder = await pickFolder(arg);
    if (folder) chatFor(folder).show();
  });

  command('caw.forgetPermissionRules', async (arg) => {
    const folder = await pickFolder(arg);
    if (!folder) return;
    await rules.clear(folder.uri.toString());
    void vscode.window.showInformationMessage(`caw: forgot the "Always in this workspace" answers of ${folder.name}; new and resumed chats ask again.`);
  });

  command('caw.restartServer', async () => {
    await server.restart();
  });

  command('caw.forgetTrust', async (arg) => {
    const folder = await pickFolder(arg);
    if (!folder) return;
    await trust.forget(folder.uri.toString());
    void vscode.window.showInformationMessage(`caw: forgot whether ${folder.name}'s agent configuration is trusted; the next chat asks again.`);
  });

  command('caw.installServer', async () => {
    const copy = `Copy "${INSTALL_COMMAND}"`;
    const terminal = 'Run It in a Terminal';
    const settings = 'Set caw.serverPath…';
    const picked = await vscode.window.showQuickPick([terminal, copy, `Copy "${PIPX_COMMAND}"`, settings], {
      title: 'caw: install caw-server',
      placeHolder: `caw-server comes with the Python package coding-agent-wrapper (${INSTALL_COMMAND})`,
    });
    if (!picked) return;
    if (picked === terminal) {
      const term = vscode.window.createTerminal('caw: install');
      term.show();
      term.sendText(INSTALL_COMMAND, false); // the user presses Enter (and may pick the venv first)
    } else if (picked === settings) {
      await vscode.commands.executeCommand('workbench.action.openSettings', 'caw.serverPath');
    } else {
      await vscode.env.clipboard.writeText(picked === copy ? INSTALL_COMMAND : PIPX_COMMAND);
      vscode.window.setStatusBarMessage('caw: install command copied', 3000);
    }
  });

  command('caw.pickProvider', async () => {
    await server.rpc();
    const provider = await pickProvider(server);
    if (!provider) return;
    await vscode.workspace.getConfiguration('caw').update('provider', provider, vscode.ConfigurationTarget.Workspace);
    void vscode.window.showInformationMessage(`caw: new chats in this workspace use ${provider}.`);
  });

  command('caw.statusAction', async () => {
    switch (server.state) {
      case 'notFound':
        if (server.check() === undefined) return server.rpc(); // installed meanwhile
        return vscode.commands.executeCommand('caw.installServer');
      case 'stopped':
        return server.restart();
      case 'starting':
      case 'restarting':
        output.show(true);
        return undefined;
      default:
        return vscode.commands.executeCommand('caw.showChat');
    }
  });

  // A chat view VS Code restores with the window takes its chat's place (no second view beside an empty group).
  context.subscriptions.push(
    vscode.window.registerWebviewPanelSerializer(CHAT_VIEW_TYPE, {
      deserializeWebviewPanel: (panel, saved: unknown) => {
        const uri = (saved as { folderUri?: unknown } | undefined)?.folderUri;
        const folder =
          (typeof uri === 'string' && vscode.workspace.getWorkspaceFolder(vscode.Uri.parse(uri))) || vscode.workspace.workspaceFolders?.[0];
        if (folder) chatFor(folder).adopt(panel);
        else panel.dispose();
        return Promise.resolve();
      },
    }),
  );

  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('caw.serverPath')) server.check();
      if (e.affectsConfiguration('caw.autoWait')) showStatus(server.state);
      if (e.affectsConfiguration('caw.serverPath') || e.affectsConfiguration('caw.dataDir') || e.affectsConfiguration('caw.permissionMode') || e.affectsConfiguration('caw.autoWait')) {
        void vscode.window
          .showInformationMessage('caw: restart caw-server to use the new settings?', 'Restart')
          .then((choice) => choice && vscode.commands.executeCommand('caw.restartServer'));
      }
    }),
  );

  // Reopen each folder's last chat, with its history.
  const restored = (async () => {
    for (const folder of vscode.workspace.workspaceFolders ?? []) {
      const meta = store.lastChat(folder.uri.toString());
      if (!meta) continue;
      const chat = chatFor(folder);
      // A view VS Code restores itself is adopted by the serializer; otherwise open one.
      if (!chat.hasPanel && !restoredViewExists()) chat.show(true);
      try {
        await chat.resume(meta);
      } catch (error) {
        output.appendLine(`resuming the chat of ${folder.name}: ${errorMessage(error)}`);
        if (error instanceof ServerNotFound) report(error);
      }
    }
  })();

  return {
    chat: (folder) => {
      const chat = chats.get(folder.toString());
      return chat && { state: chat.snapshot(), completedTurns: chat.completedTurns, busy: chat.busy };
    },
    storedChats: (folder) => store.chats(folder.toString()),
    storedHandle: (folder, sessionId) => store.handle(folder.toString(), sessionId),
    serverStarts: () => server.starts,
    permissionRules: (folder) => rules.rules(folder.toString()),
    pendingPermissions: (folder) => chats.get(folder.toString())?.pendingPermissions ?? [],
    restored,
  };
}

/** Stops the daemon (shutdown, exit); its backend processes end with it. */
export function deactivate(): Promise<void> | undefined {
  const server = activeServer;
  activeServer = undefined;
  return server?.dispose();
}

const STATUS: Record<ServerState, [string, string, string]> = {
  idle: ['$(comment-discussion)', 'caw', 'caw: show the chat'],
  starting: ['$(loading~spin)', 'caw', 'caw-server is starting'],
  ready: ['$(comment-discussion)', 'caw', 'caw-server is ready; show the chat'],
  notFound: ['$(warning)', 'caw: install', `caw-server not found; click to install it (${INSTALL_COMMAND}) or set caw.serverPath`],
  restarting: ['$(sync~spin)', 'caw', 'caw-server is restarting'],
  stopped: ['$(error)', 'caw', 'caw-server stopped; click to restart it'],
};

/** The window restored a chat view (its tab is there before the serializer gets it). */
function restoredViewExists(): boolean {
  return vscode.window.tabGroups.all.some((g) =>
    g.tabs.some((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.endsWith(CHAT_VIEW_TYPE)),
  );
}

/** The chat list's item a context-menu command was run on. */
function chatItem(arg: unknown): { folder: vscode.WorkspaceFolder; meta: ChatMeta } | undefined {
  if (arg && typeof arg === 'object' && 'meta' in arg && 'folder' in arg) return arg as { folder: vscode.WorkspaceFolder; meta: ChatMeta };
  return undefined;
}

/** The text editor last used (the chat's webview has the focus when its commands run). */
let lastTextEditor: vscode.TextEditor | undefined;
function lastEditor(): vscode.TextEditor | undefined {
  const active = vscode.window.activeTextEditor;
  if (active) return active;
  const visible = vscode.window.visibleTextEditors;
  return lastTextEditor && visible.includes(lastTextEditor) ? lastTextEditor : visible.find((e) => e.document.uri.scheme === 'file');
}

function activeChat(chats: Map<string, Chat>): Chat | undefined {
  const uri = vscode.window.activeTextEditor?.document.uri;
  const folder = uri && vscode.workspace.getWorkspaceFolder(uri);
  if (folder && chats.get(folder.uri.toString())?.sessionId) return chats.get(folder.uri.toString());
  const busy = [...chats.values()].find((c) => c.busy);
  return busy ?? [...chats.values()].find((c) => c.sessionId);
}

async function pickFolder(arg?: unknown): Promise<vscode.WorkspaceFolder | undefined> {
  if (arg && typeof arg === 'object' && 'uri' in arg && 'index' in arg) return arg as vscode.WorkspaceFolder;
  if (arg instanceof vscode.Uri) return vscode.workspace.getWorkspaceFolder(arg);
  const folders = vscode.workspace.workspaceFolders ?? [];
  if (folders.length === 0) {
    void vscode.window.showErrorMessage('caw: open a folder first; chats belong to a workspace folder.');
    return undefined;
  }
  if (folders.length === 1) return folders[0];
  const uri = vscode.window.activeTextEditor?.document.uri;
  const current = uri && vscode.workspace.getWorkspaceFolder(uri);
  return current ?? vscode.window.showWorkspaceFolderPick({ placeHolder: 'Chat in which folder?' });
}

async function pickProvider(server: CawServer): Promise<string | undefined> {
  const providers = server.providers;
  const installed = providers.filter((p) => p.installed);
  if (!installed.length) {
    const names = providers.map((p) => p.name).join(', ') || 'none reported';
    throw new Error(`no provider is installed (caw-server knows: ${names}). Install Claude Code, Codex or opencode.`);
  }
  const picked = await vscode.window.showQuickPick(
    installed.map((p) => {
      const warning = healthWarning(server.capabilities?.health?.find((h) => h.provider === p.name));
      return { label: p.name, description: p.version ?? '', ...(warning ? { detail: `$(warning) ${warning}` } : {}) };
    }),
    { title: 'caw: New Chat', placeHolder: 'Provider for the new chat' },
  );
  return picked?.label;
}
