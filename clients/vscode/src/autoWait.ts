// The `caw.autoWait` setting (vscode-free, so the unit tests read it too).

/** What `WorkspaceConfiguration.inspect` tells of a setting (the scopes the user can set). */
export interface Inspected<T> {
  globalValue?: T;
  workspaceValue?: T;
  workspaceFolderValue?: T;
}

/** `caw.autoWait` where the user set it (the narrowest scope wins), else undefined: then the
 * daemon's own default ($CAW_AUTOWAIT, --auto-wait) holds, which the setting's `false` default
 * would override if it were sent. */
export function autoWait(config: { inspect<T>(section: string): Inspected<T> | undefined }): boolean | undefined {
  const set = config.inspect<unknown>('autoWait');
  const value = set?.workspaceFolderValue ?? set?.workspaceValue ?? set?.globalValue;
  return typeof value === 'boolean' ? value : undefined;
}

/** What the status item's tooltip says of auto-wait, for `autoWait(config)`'s answer. */
export function autoWaitStatus(value: boolean | undefined): string {
  if (value === undefined) return "Auto-wait for usage limits: the daemon's default ($CAW_AUTOWAIT), caw.autoWait not set";
  return `Auto-wait for usage limits: ${value ? 'on' : 'off'} (caw.autoWait)`;
}
