// Bundles the extension (Node, CommonJS), the webview script (browser) and the
// tests with esbuild. `--production` minifies and drops source maps (the .vsix);
// `--watch` rebuilds on change.
import * as esbuild from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

const tests = (dir) =>
  fs.existsSync(path.join(root, dir))
    ? fs
        .readdirSync(path.join(root, dir), { recursive: true })
        .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
        .map((f) => path.join(dir, f))
    : [];

const common = {
  absWorkingDir: root,
  bundle: true,
  sourcemap: production ? false : 'linked',
  minify: production,
  logLevel: 'warning',
  target: 'es2022',
};

const builds = [
  {
    ...common,
    entryPoints: ['src/extension.ts'],
    outfile: 'dist/extension.js',
    platform: 'node',
    format: 'cjs',
    external: ['vscode'],
  },
  {
    ...common,
    entryPoints: ['src/webview/main.ts'],
    outfile: 'dist/webview.js',
    platform: 'browser',
    format: 'iife',
  },
];
if (!production) {
  builds.push({
    ...common,
    entryPoints: [...tests('test/unit'), ...tests('test/e2e')],
    outdir: 'out/test',
    outbase: 'test',
    platform: 'node',
    format: 'cjs',
    external: ['vscode', 'playwright-core'],
  });
}

if (watch) {
  for (const options of builds) await (await esbuild.context(options)).watch();
  console.log('watching…');
} else {
  // The production build (the .vsix) leaves the tests' build alone.
  if (!production) fs.rmSync(path.join(root, 'out'), { recursive: true, force: true });
  if (production) {
    for (const f of fs.existsSync(path.join(root, 'dist')) ? fs.readdirSync(path.join(root, 'dist')) : []) {
      if (f.endsWith('.map')) fs.rmSync(path.join(root, 'dist', f));
    }
  }
  await Promise.all(builds.map((options) => esbuild.build(options)));
}
