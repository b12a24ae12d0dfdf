// The codex window: no question is left open, and no rule was kept (none was asked for).
import { api, assert, folder, runStep, uiDone } from './common';

export function run(): Promise<void> {
  return runStep('perm-codex', async () => {
    const caw = await api();
    await uiDone('perm-codex');
    assert.deepEqual(caw.pendingPermissions(folder()), []);
    assert.deepEqual(caw.permissionRules(folder()), []);
    assert.equal(caw.chat(folder())?.state.provider, 'codex');
  });
}
