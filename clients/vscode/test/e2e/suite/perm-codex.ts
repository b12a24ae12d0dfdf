// The codex window: no question is left open, and no rule was kept (none was asked for).
import { api, assert, folder, runStep, uiDone } from './common';

/** The checks of a `perm-<provider>` window (perm-opencode.ts uses them too). */
export function checkOtherProvider(step: string, provider: string): Promise<void> {
  return runStep(step, async () => {
    const caw = await api();
    await uiDone(step);
    assert.deepEqual(caw.pendingPermissions(folder()), []);
    assert.deepEqual(caw.permissionRules(folder()), []);
    assert.equal(caw.chat(folder())?.state.provider, provider);
  });
}

export function run(): Promise<void> {
  return checkOtherProvider('perm-codex', 'codex');
}
