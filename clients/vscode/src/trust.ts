// Whether a folder's own agent configuration (hooks, plugins, MCP servers,
// settings) may run: the user's answer to the daemon's untrustedWorkspace
// question, kept per folder in workspaceState; no answer yet: the daemon
// decides (it refuses a folder that carries configuration, and the chat asks).
// VS Code's Restricted Mode does not reach here: the extension declares no
// support for untrusted workspaces, so it is off until the folder is trusted.
// Tested without VS Code.
import type { StateStore } from './chatStore';

export const TRUST_KEY = 'caw.trust.v1';

type TrustIndex = Record<string, boolean>;

export class TrustDecisions {
  constructor(private readonly state: StateStore) {}

  /** The `trusted` field of session/start and session/resume. */
  trusted(folder: string): boolean | undefined {
    const answer = this.index()[folder];
    return typeof answer === 'boolean' ? answer : undefined;
  }

  remember(folder: string, trusted: boolean): PromiseLike<void> {
    return this.state.update(TRUST_KEY, { ...this.index(), [folder]: trusted });
  }

  forget(folder: string): PromiseLike<void> {
    const next = Object.fromEntries(Object.entries(this.index()).filter(([f]) => f !== folder));
    return this.state.update(TRUST_KEY, next);
  }

  private index(): TrustIndex {
    const raw = this.state.get(TRUST_KEY);
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return {};
    return Object.fromEntries(Object.entries(raw as Record<string, unknown>).filter(([, v]) => typeof v === 'boolean')) as TrustIndex;
  }
}

/** The text of the question asked on untrustedWorkspace. */
export function trustQuestion(folderName: string, files: string[]): { message: string; detail: string } {
  const shown = files.slice(0, 8);
  const more = files.length > shown.length ? `\n… and ${files.length - shown.length} more` : '';
  return {
    message: `Trust the agent configuration in ${folderName}?`,
    detail:
      `This folder carries agent configuration that the CLI would run (hooks, plugins, MCP servers, settings):\n\n${shown.map((f) => `• ${f}`).join('\n')}${more}\n\n` +
      '"Trust" runs it as the CLI would without caw. "Without project configuration" starts the agent with the project\'s configuration switched off.',
  };
}
