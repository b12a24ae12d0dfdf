// Drives a headless chromium for tests/viewer: one JSON command per stdin line, one JSON
// answer per stdout line. playwright-core comes from the VS Code client's e2e toolchain.
"use strict";
const path = require("path");
const readline = require("readline");
const { chromium } = require(path.join(process.env.CAW_PLAYWRIGHT_DIR, "playwright-core"));

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CAW_E2E_CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const say = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
  const rl = readline.createInterface({ input: process.stdin });
  say({ ready: true });
  for await (const line of rl) {
    const cmd = JSON.parse(line);
    try {
      const timeout = cmd.timeout || 15000;
      if (cmd.op === "goto") {
        const response = await page.goto(cmd.url, { waitUntil: "load", timeout });
        say({ ok: true, status: response ? response.status() : null });
      } else if (cmd.op === "wait") {
        await page.waitForSelector(cmd.selector, { state: cmd.state || "attached", timeout });
        say({ ok: true });
      } else if (cmd.op === "waitText") {
        await page.waitForFunction(
          ([sel, text]) => Array.from(document.querySelectorAll(sel)).some((e) => e.textContent.includes(text)),
          [cmd.selector, cmd.text], { timeout });
        say({ ok: true });
      } else if (cmd.op === "text") {
        say({ ok: true, value: await page.$$eval(cmd.selector, (els) => els.map((e) => e.textContent)) });
      } else if (cmd.op === "click") {
        await page.click(cmd.selector, { timeout });
        say({ ok: true });
      } else if (cmd.op === "fill") {
        await page.fill(cmd.selector, cmd.value, { timeout });
        say({ ok: true });
      } else if (cmd.op === "screenshot") {
        await page.screenshot({ path: cmd.path, fullPage: true });
        say({ ok: true });
      } else if (cmd.op === "eval") {
        say({ ok: true, value: await page.evaluate(cmd.js) });
      } else {
        say({ ok: false, error: "unknown op " + cmd.op });
      }
    } catch (err) {
      say({ ok: false, error: String(err && err.message ? err.message : err) });
    }
  }
  await browser.close();
})().catch((err) => {
  process.stdout.write(JSON.stringify({ ok: false, fatal: String(err) }) + "\n");
  process.exit(1);
});
