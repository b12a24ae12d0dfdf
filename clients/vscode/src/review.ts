// A turn's file change in VS Code's diff editor: the content before and after
// the turn (from session/changes) served read-only under the caw-change scheme.
import * as vscode from 'vscode';
import type { FileChangeDetail } from './protocol';

export const CHANGE_SCHEME = 'caw-change';
const contents = new Map<string, string>();

export function registerReview(): vscode.Disposable {
  return vscode.workspace.registerTextDocumentContentProvider(CHANGE_SCHEME, {
    provideTextDocumentContent: (uri) => contents.get(uri.query) ?? '',
  });
}

export async function showChange(folder: vscode.WorkspaceFolder, turn: number, change: FileChangeDetail): Promise<void> {
  const file = vscode.Uri.joinPath(folder.uri, change.path);
  const side = (which: 'before' | 'after', text: string | null): vscode.Uri => {
    const key = `${folder.uri.toString()}|${turn}|${change.path}|${which}`;
    contents.set(key, text ?? '');
    return vscode.Uri.from({ scheme: CHANGE_SCHEME, path: file.path, query: key });
  };
  const label = `${change.path} (turn ${turn}${change.status === 'modified' ? '' : `, ${change.status}`})`;
  await vscode.commands.executeCommand('vscode.diff', side('before', change.before), side('after', change.after), label, { preview: true });
}
