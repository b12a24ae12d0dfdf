// The provider / model / reasoning last picked in a folder's chat header, kept
// per folder in workspaceState so the next New Chat starts with them.
import type { StateStore } from './chatStore';

export const CHOICES_KEY = 'caw.modelChoice.v1';

export interface ModelChoice {
  provider?: string;
  model?: string;
  reasoning?: string;
}

export class ModelChoices {
  constructor(private readonly state: StateStore) {}

  get(folder: string): ModelChoice {
    const raw = (this.state.get(CHOICES_KEY) as Record<string, unknown> | undefined)?.[folder];
    if (!raw || typeof raw !== 'object') return {};
    const c = raw as Record<string, unknown>;
    const pick = (k: string): string | undefined => (typeof c[k] === 'string' && c[k] ? c[k] : undefined);
    return { provider: pick('provider'), model: pick('model'), reasoning: pick('reasoning') };
  }

  remember(folder: string, choice: ModelChoice): PromiseLike<void> {
    const all = (this.state.get(CHOICES_KEY) as Record<string, unknown> | undefined) ?? {};
    return this.state.update(CHOICES_KEY, { ...all, [folder]: choice });
  }
}
