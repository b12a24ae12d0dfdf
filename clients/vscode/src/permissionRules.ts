// "Always in this workspace" answers, kept per workspace folder in
// workspaceState and sent with every session/start and session/resume of that
// folder. Written against the StateStore interface so it is tested without VS Code.
import type { StateStore } from './chatStore';
import type { RuleSpec } from './protocol';

export const RULES_KEY = 'caw.permissionRules.v1';

type RuleIndex = Record<string, RuleSpec[]>;

function isRule(value: unknown): value is RuleSpec {
  if (!value || typeof value !== 'object') return false;
  const r = value as Record<string, unknown>;
  return typeof r.tool === 'string' && typeof r.pattern === 'string' && (r.action === 'allow' || r.action === 'reject');
}

export class PermissionRules {
  // Serializes read-modify-write: two chats may answer at once.
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly state: StateStore) {}

  /** The folder's rules, as session/start and session/resume take them. */
  rules(folder: string): RuleSpec[] {
    return (this.index()[folder] ?? []).map((r) => ({ tool: r.tool, pattern: r.pattern, action: r.action }));
  }

  /** Keeps a rule for the folder (once: an equal rule is not added again). */
  add(folder: string, rule: RuleSpec): Promise<void> {
    return this.serialized(async () => {
      const index = this.index();
      const list = index[folder] ?? [];
      if (list.some((r) => r.tool === rule.tool && r.pattern === rule.pattern && r.action === rule.action)) return;
      await this.state.update(RULES_KEY, { ...index, [folder]: [...list, { tool: rule.tool, pattern: rule.pattern, action: rule.action }] });
    });
  }

  /** Forgets the folder's rules. */
  clear(folder: string): Promise<void> {
    return this.serialized(async () => {
      const next = Object.fromEntries(Object.entries(this.index()).filter(([f]) => f !== folder));
      await this.state.update(RULES_KEY, next);
    });
  }

  private index(): RuleIndex {
    const raw = this.state.get(RULES_KEY);
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return {};
    const index: RuleIndex = {};
    for (const [folder, list] of Object.entries(raw as Record<string, unknown>)) {
      if (Array.isArray(list)) index[folder] = list.filter(isRule);
    }
    return index;
  }

  private serialized(work: () => Promise<void>): Promise<void> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }
}
