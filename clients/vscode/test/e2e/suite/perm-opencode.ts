// The opencode window: no question is left open, and no rule was kept (none was asked for).
import { checkOtherProvider } from './perm-codex';

export function run(): Promise<void> {
  return checkOtherProvider('perm-opencode', 'opencode');
}
