#!/usr/bin/env node
// run.mjs — the console's browser tests. It starts a real Herald (`herald all`, on a free
// port, with its own database, Redis and RabbitMQ prefixes and the demo app) and the vendor
// simulator (`herald sim`), drives Debian's chromium through playwright-core over the
// console as a person would, saves a screenshot of each test's page under e2e/output/
// (git-ignored), and removes everything the run created, whatever happened.
//
//   node e2e/run.mjs            (from ui/; `make test-browser` builds bin/herald first)
//
// Environment: HERALD_BIN (default ../bin/herald), CHROMIUM (default /usr/bin/chromium),
// GO (default go, for the cleanup), E2E_ONLY (run only the tests whose name contains it),
// E2E_KEEP=1 (leave Herald running until Ctrl-C, to look around).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { tests } from './tests.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const outDir = join(here, 'output');
const heraldBin = resolve(process.env.HERALD_BIN ?? join(repo, 'bin', 'herald'));
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const goBin = process.env.GO ?? 'go';

function log(...args) {
  console.log('[e2e]', ...args);
}

/** freePort asks the system for a port nobody listens on. */
function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** start runs a child with its output in a log file; stop() ends it (TERM, then KILL). */
function start(name, args, env) {
  const logFile = join(outDir, `${name}.log`);
  const out = createWriteStream(logFile);
  const child = spawn(heraldBin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(out);
  child.stderr.pipe(out);
  const exited = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })));
  return {
    name,
    logFile,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) {
        return;
      }
      child.kill('SIGTERM');
      const done = await Promise.race([exited, sleep(45_000).then(() => null)]);
      if (!done) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

function tail(file, lines = 60) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

async function waitReady(url, proc, ms = 120_000) {
  const deadline = Date.now() + ms;
  let exitedEarly = null;
  void proc.exited.then((x) => (exitedEarly = x));
  while (Date.now() < deadline) {
    if (exitedEarly) {
      throw new Error(`${proc.name} exited (${JSON.stringify(exitedEarly)}) before it was ready:\n${tail(proc.logFile)}`);
    }
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.ok) {
        return;
      }
    } catch {
      // not listening yet
    }
    await sleep(500);
  }
  throw new Error(`${proc.name} was not ready within ${ms / 1000}s:\n${tail(proc.logFile)}`);
}

async function main() {
  if (!existsSync(heraldBin)) {
    throw new Error(`${heraldBin} is missing: run \`make build\` first (or set HERALD_BIN)`);
  }
  if (!existsSync(chromiumPath)) {
    throw new Error(`${chromiumPath} is missing: scripts/install-tools.sh --chromium installs it (or set CHROMIUM)`);
  }
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });

  const id = randomBytes(4).toString('hex');
  const prefix = `herald_e2e_${id}`;
  const [httpPort, simPort] = [await freePort(), await freePort()];
  const baseURL = `http://127.0.0.1:${httpPort}`;
  const admin = { email: 'e2e-admin@herald.test', password: `e2e-${randomBytes(9).toString('base64url')}` };
  const env = {
    ...process.env,
    HERALD_HTTP_ADDR: `127.0.0.1:${httpPort}`,
    HERALD_PUBLIC_URL: baseURL,
    HERALD_DB_PREFIX: prefix,
    HERALD_REDIS_PREFIX: `${prefix}:`,
    HERALD_AMQP_PREFIX: `${prefix}.`,
    HERALD_PROVIDERS: `sim=http://127.0.0.1:${simPort}`,
    HERALD_PROVIDER_RATES: 'aliyun=200',
    HERALD_ADMIN_EMAIL: admin.email,
    HERALD_ADMIN_PASSWORD: admin.password,
    HERALD_DEMO: 'true',
    HERALD_LOG_LEVEL: 'info',
  };
  log(`Herald on ${baseURL}, simulator on 127.0.0.1:${simPort}, prefix ${prefix}`);

  const procs = [];
  let browser = null;
  const results = [];
  try {
    const migrate = spawnSync(heraldBin, ['migrate'], { env, encoding: 'utf8' });
    if (migrate.status !== 0) {
      throw new Error(`herald migrate failed:\n${migrate.stdout}${migrate.stderr}`);
    }
    procs.push(start('sim', ['sim', '--addr', `127.0.0.1:${simPort}`, '--callback', baseURL], env));
    const herald = start('herald', ['all'], env);
    procs.push(herald);
    await waitReady(baseURL, herald);

    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    const context = await browser.newContext({ baseURL, viewport: { width: 1440, height: 900 }, locale: 'en-US' });
    const page = await context.newPage();
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const state = { id, admin, baseURL };
    const only = process.env.E2E_ONLY;
    for (const test of tests) {
      if (only && !test.always && !test.name.includes(only)) {
        continue;
      }
      const started = Date.now();
      const number = String(results.length + 1).padStart(2, '0');
      const shot = join(outDir, `${number}-${test.slug}.png`);
      // A test may save more pictures on the way: state.snap('form').
      state.snap = (what) => page.screenshot({ path: join(outDir, `${number}-${test.slug}-${what}.png`), fullPage: true });
      try {
        page.setDefaultTimeout(test.timeout ?? 20_000);
        await test.run(page, state);
        if (pageErrors.length > 0) {
          throw new Error(`errors in the page: ${pageErrors.splice(0).join('; ')}`);
        }
        await page.screenshot({ path: shot, fullPage: true });
        results.push({ name: test.name, ok: true });
        log(`ok   ${test.name} (${((Date.now() - started) / 1000).toFixed(1)}s) → ${shot}`);
      } catch (err) {
        await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
        results.push({ name: test.name, ok: false, err });
        log(`FAIL ${test.name}: ${err?.stack ?? err}\n     screenshot: ${shot}`);
        if (test.required) {
          log('the tests after it need it: stopping');
          break;
        }
      }
    }
    if (process.env.E2E_KEEP === '1') {
      log(`E2E_KEEP=1: Herald stays up on ${baseURL} (${admin.email} / ${admin.password}); Ctrl-C ends it`);
      await new Promise((r) => process.once('SIGINT', r));
    }
  } catch (err) {
    results.push({ name: 'setup', ok: false, err });
    log(`setup failed: ${err?.stack ?? err}`);
  } finally {
    await browser?.close().catch(() => {});
    for (const p of procs.reverse()) {
      await p.stop();
    }
    const failed = results.some((r) => !r.ok) || results.length === 0;
    if (failed) {
      for (const p of procs) {
        log(`last lines of ${p.name}:\n${tail(p.logFile, 40)}`);
      }
    }
    const cleanup = spawnSync(goBin, ['run', './ui/e2e/cleanup'], { cwd: repo, env, encoding: 'utf8' });
    process.stdout.write(cleanup.stdout ?? '');
    if (cleanup.status !== 0) {
      log(`cleanup failed: ${cleanup.stderr || cleanup.error}`);
      process.exitCode = 1;
    }
  }
  const passed = results.filter((r) => r.ok).length;
  const failedCount = results.length - passed;
  console.log(`browser: ${passed} passed, ${failedCount} failed`);
  if (failedCount > 0 || passed === 0) {
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error('[e2e]', err?.stack ?? err);
  console.log('browser: 0 passed, 1 failed');
  process.exitCode = 1;
});
