// Helpers for the test modules that run inside VS Code's extension host
// (extensionTestsPath). They check what the UI cannot show: the stored
// handle, the workspace metadata, how often the daemon started. The runner
// drives the UI meanwhile and writes `ui-done-<step>` when it is finished.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CawExtensionApi } from '../../../src/extension';

export { assert };

const syncDir = (): string => {
  const dir = process.env.CAW_E2E_SYNC;
  if (!dir) throw new Error('CAW_E2E_SYNC is not set');
  return dir;
};

export async function api(): Promise<CawExtensionApi> {
  const ext = vscode.extensions.all.find((e) => e.packageJSON && (e.packageJSON as { name?: string }).name === 'caw-vscode');
  if (!ext) throw new Error('the caw extension is not loaded');
  return (await ext.activate()) as CawExtensionApi;
}

export function folder(): vscode.Uri {
  const f = vscode.workspace.workspaceFolders?.[0];
  if (!f) throw new Error('no workspace folder');
  return f.uri;
}

/** Waits for the runner to finish driving the UI for `step`. */
export async function uiDone(step: string): Promise<void> {
  const file = path.join(syncDir(), `ui-done-${step}`);
  const deadline = Date.now() + 10 * 60_000;
  while (!fs.existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`the runner never finished ${step}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function record(step: string, facts: unknown): void {
  fs.writeFileSync(path.join(syncDir(), `${step}.json`), JSON.stringify(facts, null, 2));
}

export function recorded(step: string): unknown {
  return JSON.parse(fs.readFileSync(path.join(syncDir(), `${step}.json`), 'utf8'));
}

/** Runs `body`; a failure is written where the runner reports it, then rethrown (exit code 1). */
export async function runStep(step: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    fs.writeFileSync(path.join(syncDir(), `${step}.error`), error instanceof Error ? (error.stack ?? error.message) : String(error));
    throw error;
  }
}

export function turns(state: { entries: { kind: string; turn?: unknown }[] }): {
  input: string;
  output: { type: string; text?: string }[];
  stopReason?: string;
}[] {
  return state.entries.filter((e) => e.kind === 'turn').map((e) => e.turn as never);
}

export function resultOf(turn: { output: { type: string; text?: string }[] }): string {
  return turn.output
    .filter((b) => b.type === 'text')
    .map((b) => b.text ?? '')
    .join('');
}
