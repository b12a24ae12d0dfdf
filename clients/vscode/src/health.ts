// `caw doctor`'s signals from initialize (each CLI's health from files and the
// environment), said before a turn fails on them: not installed, not logged in,
// login expired, rate limited.
import type { ProviderHealthInfo } from './protocol';

export function healthWarning(health: ProviderHealthInfo | undefined): string | undefined {
  if (!health) return undefined;
  const name = health.provider;
  if (!health.installed) return `${name}'s CLI is not installed: the chat cannot answer until it is (see \`caw doctor\`).`;
  if (health.auth?.tokenExpired) return `${name}'s login has expired: log in again with the CLI (see \`caw doctor\`).`;
  if (health.auth?.present === false) {
    const detail = health.auth.detail ? ` (${health.auth.detail})` : '';
    return `${name} does not look logged in${detail}: log in with the CLI or set its API key (see \`caw doctor\`).`;
  }
  if (health.rateLimited) {
    const wait = health.waitMinutes ? ` for about ${Math.ceil(health.waitMinutes)} min` : '';
    return `${name} is rate limited${wait}.`;
  }
  return undefined;
}
