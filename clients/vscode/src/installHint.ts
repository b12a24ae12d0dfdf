// How to install the daemon, said the same way everywhere. The distribution is
// `coding-agent-wrapper` (the name `caw` on the public index is an unrelated
// package without `caw-server`); the import name and commands stay `caw`.

export const INSTALL_COMMAND = 'pip install coding-agent-wrapper';
export const PIPX_COMMAND = 'pipx install coding-agent-wrapper';

/** The message for a daemon that was not found, with the hint once. */
export function serverNotFoundMessage(tried: string[], badSetting?: string): string {
  if (badSetting) return `caw-server not found at ${badSetting} (setting caw.serverPath).`;
  return `caw-server not found (looked in ${tried.join(', ')}). Install it with \`${INSTALL_COMMAND}\` (or \`${PIPX_COMMAND}\`) in the workspace's .venv or on PATH, or set caw.serverPath.`;
}

/** Appends `hint` unless the message says it already (the daemon's messages often do). */
export function withHint(message: string, hint: string | null | undefined): string {
  const h = hint?.trim();
  if (!h || message.includes(h)) return message;
  return `${message} ${h}`;
}
