// What a code block's buttons do in the editor: copy, insert at the cursor of
// the editor last used, or apply to a file after review in the diff editor.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CodeAction } from './chatModel';

export const PROPOSED_SCHEME = 'caw-proposed';

/** The text editor last focused (the chat's webview takes the focus when its button is clicked). */
let lastEditor: vscode.TextEditor | undefined;
const proposals = new Map<string, string>();
let counter = 0;

export function registerCodeActions(): vscode.Disposable {
  lastEditor = vscode.window.activeTextEditor;
  const onDidChange = new vscode.EventEmitter<vscode.Uri>();
  return vscode.Disposable.from(
    onDidChange,
    vscode.window.onDidChangeActiveTextEditor((e) => {
      if (e && e.document.uri.scheme !== PROPOSED_SCHEME) lastEditor = e;
    }),
    vscode.workspace.registerTextDocumentContentProvider(PROPOSED_SCHEME, {
      onDidChange: onDidChange.event,
      provideTextDocumentContent: (uri) => proposals.get(uri.query) ?? '',
    }),
  );
}

/** The editor last used, even when the chat now covers it (it is shown again for the insert). */
function targetEditor(): vscode.TextEditor | undefined {
  const open = lastEditor && !lastEditor.document.isClosed ? lastEditor : undefined;
  return vscode.window.activeTextEditor ?? open ?? vscode.window.visibleTextEditors.find((e) => e.document.uri.scheme === 'file');
}

export async function runCodeAction(action: CodeAction, code: string, folder: vscode.WorkspaceFolder, file?: string): Promise<void> {
  switch (action) {
    case 'copy':
      await vscode.env.clipboard.writeText(code);
      vscode.window.setStatusBarMessage('caw: code copied', 3000);
      return;
    case 'insert': {
      const editor = targetEditor();
      if (!editor) throw new Error('no editor to insert into: open a file first.');
      const shown = await vscode.window.showTextDocument(editor.document, { viewColumn: editor.viewColumn, selection: editor.selection });
      await shown.edit((edit) => {
        for (const sel of shown.selections) edit.replace(sel, code);
      });
      return;
    }
    case 'apply':
      await applyToFile(code, folder, file);
      return;
  }
}

/** Opens the diff (file now ↔ the code) and writes the file only when the user says Apply. */
async function applyToFile(code: string, folder: vscode.WorkspaceFolder, file?: string): Promise<void> {
  let target: vscode.Uri | undefined;
  if (file) {
    const resolved = path.resolve(folder.uri.fsPath, file);
    if (resolved === folder.uri.fsPath || resolved.startsWith(folder.uri.fsPath + path.sep)) target = vscode.Uri.file(resolved);
  }
  target ??= targetEditor()?.document.uri;
  if (!target) {
    const picked = await vscode.window.showOpenDialog({ defaultUri: folder.uri, canSelectMany: false, openLabel: 'Apply to this file' });
    target = picked?.[0];
  }
  if (!target) return;
  let exists = true;
  try {
    await vscode.workspace.fs.stat(target);
  } catch {
    exists = false;
  }
  const key = String(++counter);
  proposals.set(key, code.endsWith('\n') ? code : `${code}\n`);
  const proposed = vscode.Uri.from({ scheme: PROPOSED_SCHEME, path: target.path, query: key });
  const name = vscode.workspace.asRelativePath(target, false);
  const original = exists ? target : vscode.Uri.from({ scheme: PROPOSED_SCHEME, path: target.path, query: 'empty' });
  await vscode.commands.executeCommand('vscode.diff', original, proposed, `${name} ↔ caw's code`, { preview: true });
  const apply = 'Apply';
  const picked = await vscode.window.showInformationMessage(`caw: apply this code to ${name}${exists ? '' : ' (new file)'}?`, apply, 'Discard');
  proposals.delete(key);
  if (picked !== apply) return;
  const edit = new vscode.WorkspaceEdit();
  if (exists) {
    const doc = await vscode.workspace.openTextDocument(target);
    edit.replace(target, new vscode.Range(doc.positionAt(0), doc.positionAt(doc.getText().length)), code.endsWith('\n') ? code : `${code}\n`);
  } else {
    edit.createFile(target, { contents: new TextEncoder().encode(code.endsWith('\n') ? code : `${code}\n`) });
  }
  if (!(await vscode.workspace.applyEdit(edit))) throw new Error(`could not apply the code to ${name}`);
  if (exists) await (await vscode.workspace.openTextDocument(target)).save();
}
