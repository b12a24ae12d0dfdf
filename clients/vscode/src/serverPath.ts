// Finding the caw-server executable: the setting, then the workspace's
// virtual environment, then PATH. No 'vscode' import, so it is unit-tested.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface ServerPathResult {
  path?: string;
  /** Where we looked, for the error message when nothing was found. */
  tried: string[];
  /** The configured path does not exist. */
  badSetting?: string;
}

const exe = process.platform === 'win32' ? 'caw-server.exe' : 'caw-server';
const binDir = process.platform === 'win32' ? 'Scripts' : 'bin';

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

export function expandPath(value: string, folder?: string): string {
  let p = value.trim();
  if (folder) p = p.replace(/\$\{workspaceFolder\}/g, folder);
  if (p === '~' || p.startsWith('~/')) p = path.join(os.homedir(), p.slice(1));
  if (!path.isAbsolute(p) && folder) p = path.resolve(folder, p);
  return p;
}

export function findServer(setting: string, folders: string[], envPath = process.env.PATH ?? ''): ServerPathResult {
  const tried: string[] = [];
  if (setting.trim()) {
    const p = expandPath(setting, folders[0]);
    tried.push(p);
    return isExecutable(p) ? { path: p, tried } : { tried, badSetting: p };
  }
  for (const folder of folders) {
    for (const venv of ['.venv', 'venv']) {
      const p = path.join(folder, venv, binDir, exe);
      tried.push(p);
      if (isExecutable(p)) return { path: p, tried };
    }
  }
  for (const dir of envPath.split(path.delimiter).filter(Boolean)) {
    const p = path.join(dir, exe);
    if (isExecutable(p)) return { path: p, tried };
  }
  tried.push(`${exe} on PATH`);
  return { tried };
}
