// The end-to-end harness: the scripted model server, code-server 4.99.4 and a
// headless Debian chromium driven by playwright-core. Everything runs on
// 127.0.0.1, each child in its own process group that is ended as a whole.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { type BrowserContext, chromium, type FrameLocator, type Page } from 'playwright-core';
import { type Child, config, extensionRoot, log, startChild } from '../support/processes';

export { config, extensionRoot, log, ModelServer } from '../support/processes';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address() as net.AddressInfo;
      server.close(() => resolve(address.port));
    });
  });
}

export interface Workbench {
  /** The workspace folder. */
  folder: string;
  /** Same port on every start: the workspace's identity (and so its storage) includes it. */
  port: number;
  userDataDir: string;
  extensionsDir: string;
  browserProfile: string;
  syncDir: string;
  env: NodeJS.ProcessEnv;
  /** `security.workspace.trust.enabled` in the settings: the folder opens untrusted (Restricted Mode). */
  workspaceTrust: boolean;
}

export function prepareWorkbench(root: string, name: string, env: NodeJS.ProcessEnv, settings: Record<string, unknown>, port: number): Workbench {
  const base = path.join(root, name);
  const wb: Workbench = {
    folder: path.join(base, 'workspace'),
    port,
    userDataDir: path.join(base, 'user-data'),
    extensionsDir: path.join(base, 'extensions'),
    browserProfile: path.join(base, 'browser'),
    syncDir: path.join(base, 'sync'),
    env,
    workspaceTrust: settings['security.workspace.trust.enabled'] === true,
  };
  for (const dir of [wb.folder, path.join(wb.userDataDir, 'User'), wb.extensionsDir, wb.browserProfile, wb.syncDir]) {
    fs.mkdirSync(dir, { recursive: true });
  }
  fs.writeFileSync(path.join(wb.folder, 'README.md'), `# ${name}\n\nA workspace for the caw end-to-end test.\n`);
  const user = {
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.enableExperiments': false,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'extensions.ignoreRecommendations': true,
    'security.workspace.trust.enabled': false,
    'chat.commandCenter.enabled': false,
    'window.commandCenter': false,
    ...settings,
  };
  fs.writeFileSync(path.join(wb.userDataDir, 'User/settings.json'), JSON.stringify(user, null, 2));
  return wb;
}

export class CodeServer {
  private constructor(
    private readonly child: Child,
    readonly url: string,
  ) {}

  static async start(wb: Workbench): Promise<CodeServer> {
    const args = [
      '--bind-addr', `127.0.0.1:${wb.port}`,
      '--auth', 'none',
      '--config', path.join(wb.userDataDir, 'code-server.yaml'),
      '--user-data-dir', wb.userDataDir,
      '--extensions-dir', wb.extensionsDir,
      '--disable-telemetry',
      '--disable-update-check',
      ...(wb.workspaceTrust ? [] : ['--disable-workspace-trust']),
      '--disable-getting-started-override',
      '--ignore-last-opened',
      wb.folder,
    ]; // prettier-ignore
    const env = {
      ...wb.env,
      CAW_E2E_SYNC: wb.syncDir,
      // Keep this environment (cli_environment's PATH and HOME) for the extension
      // host and so the daemon: without it VS Code's server replaces PATH with
      // what a login shell prints.
      VSCODE_CLI: '1',
      // No extension gallery: nothing leaves the machine.
      EXTENSIONS_GALLERY: JSON.stringify({ serviceUrl: 'http://127.0.0.1:9/gallery', itemUrl: 'http://127.0.0.1:9/item' }),
    };
    const child = startChild('code-server', config.codeServer, args, env, wb.folder);
    const m = await child.waitForOutput(/HTTP server listening on (http:\/\/127\.0\.0\.1:\d+)/);
    return new CodeServer(child, m[1].replace(/\/$/, ''));
  }

  get pid(): number {
    return this.child.pid;
  }

  get log(): string {
    return this.child.output;
  }

  stop(): Promise<void> {
    return this.child.stop();
  }

  /** `code-server --install-extension`, into the workbench's own extensions dir. */
  static install(wb: Workbench, vsix: string): string {
    return execFileSync(
      config.codeServer,
      ['--user-data-dir', wb.userDataDir, '--extensions-dir', wb.extensionsDir, '--config', path.join(wb.userDataDir, 'code-server.yaml'), '--install-extension', vsix],
      { env: { ...wb.env, VSCODE_CLI: '1' }, encoding: 'utf8', timeout: config.timeoutMs },
    );
  }
}

/** A browser window on the workbench, running `testsModule` in the extension host. */
export class Browser {
  private constructor(
    readonly context: BrowserContext,
    readonly page: Page,
    /** The in-host test module's exit code (codeAutomationExit). */
    readonly exitCode: Promise<number>,
  ) {}

  /** With `testsModule`, the extension is loaded from this folder (development mode) and the module runs in its host. */
  static async open(wb: Workbench, server: CodeServer, testsModule?: string): Promise<Browser> {
    const context = await chromium.launchPersistentContext(wb.browserProfile, {
      executablePath: config.chromium,
      headless: true,
      viewport: { width: 1400, height: 900 },
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (m) => {
      if (process.env.CAW_E2E_VERBOSE === '1' || /caw|error/i.test(m.text())) log(`[page] ${m.text().slice(0, 400)}`);
    });
    let settle!: (code: number) => void;
    const exitCode = new Promise<number>((resolve) => (settle = resolve));
    await page.exposeFunction('codeAutomationExit', (code: number) => settle(code));
    const remote = (p: string): string => `vscode-remote://127.0.0.1:${wb.port}${p}`;
    const payload = [
      ['extensionDevelopmentPath', remote(extensionRoot)],
      ['extensionTestsPath', remote(testsModule ?? '')],
    ];
    let url = `${server.url}/?folder=${encodeURIComponent(wb.folder)}`;
    if (testsModule) url += `&payload=${encodeURIComponent(JSON.stringify(payload))}`;
    await page.goto(url);
    await page.locator('.monaco-workbench').waitFor({ timeout: config.timeoutMs });
    // The extension is active (and its commands are in the palette) once its status item shows.
    // In Restricted Mode the test itself says what it expects.
    if (!wb.workspaceTrust) await page.locator('.statusbar-item', { hasText: 'caw' }).first().waitFor({ timeout: config.timeoutMs });
    return new Browser(context, page, exitCode);
  }

  /** The chat webview's document (VS Code nests it in two iframes). */
  chat(): FrameLocator {
    return this.page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
  }

  /** Runs a command from the palette, as a person would. */
  async runCommand(title: string): Promise<void> {
    const page = this.page;
    await page.locator('.monaco-workbench').focus();
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input.input');
    await input.waitFor({ state: 'visible', timeout: config.timeoutMs });
    await input.fill(`>${title}`);
    await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor({ timeout: config.timeoutMs });
    await input.press('Enter');
  }

  /** Picks `label` in the quick pick that has `placeholder`. */
  async pick(placeholder: string, label: string): Promise<void> {
    const page = this.page;
    const input = page.locator(`.quick-input-widget input.input[placeholder="${placeholder}"]`);
    await input.waitFor({ state: 'visible', timeout: config.timeoutMs });
    await input.fill(label);
    await page.locator('.quick-input-list .monaco-list-row', { hasText: label }).first().waitFor({ timeout: config.timeoutMs });
    await input.press('Enter');
  }

  /** Types a message into the chat and sends it with Enter. */
  async say(text: string): Promise<void> {
    const chat = this.chat();
    const input = chat.locator('#input');
    await chat.locator('#send:not([disabled])').waitFor({ timeout: config.timeoutMs });
    await input.fill(text);
    await input.press('Enter');
  }

  /** Waits until the chat shows `count` finished answers; returns their texts. */
  async answers(count: number): Promise<string[]> {
    const chat = this.chat();
    const done = chat.locator('.message.assistant:not(.running)');
    await done.nth(count - 1).waitFor({ timeout: config.timeoutMs });
    await chat.locator('body[data-status="idle"]').waitFor({ timeout: config.timeoutMs });
    return done.allInnerTexts();
  }

  async close(): Promise<void> {
    await this.context.close();
  }
}

/**
 * Screenshot of the chat view, kept under test-output/vscode/, and checked:
 * the view is on screen with a real size and the picture is not blank.
 */
export async function checkedScreenshot(browser: Browser, name: string): Promise<string> {
  const frame = browser.page.locator('iframe.webview.ready');
  await frame.waitFor({ state: 'visible', timeout: config.timeoutMs });
  const box = await frame.boundingBox();
  const viewport = browser.page.viewportSize();
  if (!box || !viewport) throw new Error('the chat view has no box on the page');
  if (box.width < 300 || box.height < 200) throw new Error(`the chat view is too small: ${box.width}x${box.height}`);
  if (box.x < 0 || box.y < 0 || box.x + box.width > viewport.width + 1 || box.y + box.height > viewport.height + 1) {
    throw new Error(`the chat view is off screen: ${JSON.stringify(box)}`);
  }
  fs.mkdirSync(config.outputDir, { recursive: true });
  const file = path.join(config.outputDir, `${name}.png`);
  await browser.page.screenshot({ path: file });
  const view = decodePng(await frame.screenshot());
  const stats = pixelStats(view);
  // A rendered transcript has text: many distinct colours (anti-aliasing) and
  // a fair share of pixels that differ from the background.
  if (stats.distinctColors < 16 || stats.inkShare < 0.003) {
    throw new Error(`the chat view looks blank in ${file}: ${JSON.stringify(stats)}`);
  }
  log(`screenshot ${file} (${view.width}x${view.height}, ${JSON.stringify(stats)})`);
  return file;
}

export async function failureScreenshot(browser: Browser | undefined, name: string): Promise<void> {
  if (!browser) return;
  try {
    fs.mkdirSync(config.outputDir, { recursive: true });
    await browser.page.screenshot({ path: path.join(config.outputDir, `${name}-failure.png`), timeout: 5000 });
  } catch {
    // best effort
  }
}

interface Image {
  width: number;
  height: number;
  /** RGBA, row by row. */
  data: Buffer;
}

/** A PNG decoder for what chromium writes (8-bit RGB/RGBA, not interlaced). */
export function decodePng(png: Buffer): Image {
  if (png.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG');
  let offset = 8;
  let width = 0;
  let height = 0;
  let colorType = 0;
  const idat: Buffer[] = [];
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    const body = png.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const depth = body[8];
      colorType = body[9];
      if (depth !== 8 || (colorType !== 2 && colorType !== 6) || body[12] !== 0) {
        throw new Error(`unsupported PNG (depth ${depth}, colour type ${colorType}, interlace ${body[12]})`);
      }
    } else if (type === 'IDAT') {
      idat.push(body);
    } else if (type === 'IEND') {
      break;
    }
    offset += 12 + length;
  }
  const channels = colorType === 6 ? 4 : 3;
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const out = Buffer.alloc(width * height * 4);
  let prev = Buffer.alloc(stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = Buffer.from(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? line[i - channels] : 0;
      const b = prev[i];
      const c = i >= channels ? prev[i - channels] : 0;
      let add = 0;
      if (filter === 1) add = a;
      else if (filter === 2) add = b;
      else if (filter === 3) add = (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        add = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      line[i] = (line[i] + add) & 0xff;
    }
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      out[o] = line[x * channels];
      out[o + 1] = line[x * channels + 1];
      out[o + 2] = line[x * channels + 2];
      out[o + 3] = channels === 4 ? line[x * channels + 3] : 255;
    }
    prev = line;
  }
  return { width, height, data: out };
}

export function pixelStats(image: Image): { distinctColors: number; inkShare: number } {
  const counts = new Map<number, number>();
  const pixels = image.width * image.height;
  for (let i = 0; i < pixels; i++) {
    const o = i * 4;
    const key = (image.data[o] << 16) | (image.data[o + 1] << 8) | image.data[o + 2];
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const background = Math.max(...counts.values());
  return { distinctColors: counts.size, inkShare: Number(((pixels - background) / pixels).toFixed(4)) };
}

/** Processes below `root` pid whose command line matches `pattern`. */
export function descendants(root: number, pattern?: RegExp): { pid: number; cmdline: string }[] {
  const parents = new Map<number, number>();
  const cmdlines = new Map<number, string>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(entry), ppid);
      cmdlines.set(Number(entry), fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').trim());
    } catch {
      // gone meanwhile
    }
  }
  const found: { pid: number; cmdline: string }[] = [];
  for (const [pid] of parents) {
    let p = parents.get(pid);
    while (p !== undefined && p > 1 && p !== root) p = parents.get(p);
    if (p === root && (!pattern || pattern.test(cmdlines.get(pid) ?? ''))) found.push({ pid, cmdline: cmdlines.get(pid) ?? '' });
  }
  return found;
}

/** Processes whose working directory is inside `dir` (the agents run in the workspace). */
export function processesIn(dir: string): { pid: number; cmdline: string }[] {
  const found: { pid: number; cmdline: string }[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cwd = fs.readlinkSync(`/proc/${entry}/cwd`);
      if (cwd === dir || cwd.startsWith(dir + path.sep)) {
        found.push({ pid: Number(entry), cmdline: fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').trim() });
      }
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

/**
 * One window: code-server up on `wb`, a page (running `testsModule` in the extension host if
 * given), `drive` playing the user. On failure a screenshot and the logs are kept; after it,
 * no process may be left in the folder (code-server takes the extension host, the daemon and
 * its CLI processes with it).
 */
async function inWindow(
  wb: Workbench,
  step: string,
  modelLog: () => string,
  testsModule: string | undefined,
  drive: (b: Browser, cs: CodeServer) => Promise<void>,
): Promise<void> {
  const cs = await CodeServer.start(wb);
  let browser: Browser | undefined;
  try {
    browser = await Browser.open(wb, cs, testsModule);
    await drive(browser, cs);
  } catch (error) {
    await failureScreenshot(browser, step);
    fs.mkdirSync(config.outputDir, { recursive: true });
    fs.writeFileSync(path.join(config.outputDir, `${step}-code-server.log`), cs.log);
    fs.writeFileSync(path.join(config.outputDir, `${step}-model-server.log`), modelLog());
    throw error;
  } finally {
    await browser?.close();
    await cs.stop();
  }
  await until(`no process left in ${wb.folder}`, () => processesIn(wb.folder).length === 0, 15_000).catch(() => {
    throw new Error(`orphans after ${step}: ${JSON.stringify(processesIn(wb.folder))}`);
  });
}

/**
 * One window running `step`'s in-host module (test/e2e/suite/<step>.ts) while `drive` plays the
 * user. The module's exit code is the verdict.
 */
export function runWindow(
  wb: Workbench,
  step: string,
  modelLog: () => string,
  drive: (b: Browser, cs: CodeServer) => Promise<void>,
): Promise<void> {
  return inWindow(wb, step, modelLog, path.join(__dirname, 'suite', `${step}.js`), async (browser, cs) => {
    await drive(browser, cs);
    fs.writeFileSync(path.join(wb.syncDir, `ui-done-${step}`), '');
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      browser.exitCode,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${step}: no exit code from the extension host`)), config.timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    const errorFile = path.join(wb.syncDir, `${step}.error`);
    assert.equal(code, 0, fs.existsSync(errorFile) ? fs.readFileSync(errorFile, 'utf8') : `${step}: the extension host test failed`);
  });
}

/**
 * One window on the extension installed from the .vsix, with no in-host test module (VS Code
 * refuses modal dialogs in extension test mode, and the trust question and Revert are modals).
 */
export function vsixWindow(wb: Workbench, step: string, modelLog: () => string, drive: (b: Browser) => Promise<void>): Promise<void> {
  if (!fs.readdirSync(wb.extensionsDir).some((d) => d.startsWith('caw.caw-vscode-'))) {
    const vsix = path.join(extensionRoot, 'dist/caw-vscode.vsix');
    assert.ok(fs.existsSync(vsix), `no ${vsix}: run \`npm run package\` first`);
    assert.match(CodeServer.install(wb, vsix), /was successfully installed/);
  }
  return inWindow(wb, step, modelLog, undefined, drive);
}

/** Polls `check` (a cheap, local look) until it returns a value. */
export async function until<T>(what: string, check: () => T | undefined | false, timeoutMs = config.timeoutMs): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
