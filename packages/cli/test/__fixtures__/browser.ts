/**
 * A real headless Chromium for the report tests: Debian's `chromium` package at /usr/bin/chromium
 * (`.ci/run` installs it), driven by playwright-core, which never downloads a browser of its
 * own. Under CI=true a missing browser fails the file; elsewhere the file is skipped with the
 * reason. Every request the page makes is recorded and, except the page itself, refused.
 */
import {existsSync, mkdirSync} from 'node:fs';
import {join} from 'node:path';
import {pathToFileURL} from 'node:url';
import {chromium, type Browser, type Page} from 'playwright-core';
import {REPO} from './docker-cli.js';

export const CHROMIUM = process.env.LEM_TEST_CHROMIUM ?? '/usr/bin/chromium';

/** Where screenshots are kept after the run (git-ignored). */
export const ARTIFACTS = join(REPO, '.test-artifacts');

/** Null when the browser is there, else why not (thrown under CI=true). */
export function chromiumMissing(): string | null {
  if (existsSync(CHROMIUM)) return null;
  const missing = `no Chromium at ${CHROMIUM} (apt-get install chromium)`;
  if (process.env.CI === 'true') throw new Error(`CI: ${missing}`);
  return missing;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu']});
}

export interface OpenedPage {
  page: Page;
  /** Console errors and uncaught page errors. */
  errors: string[];
  /** Every URL the page asked for besides itself. */
  requests: string[];
}

/** Opens a local HTML file in a fresh page: records console errors and refuses (and records) every other request. */
export async function openFile(browser: Browser, file: string): Promise<OpenedPage> {
  const page = await browser.newPage({viewport: {width: 1280, height: 900}});
  const url = pathToFileURL(file).href;
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('request', (r) => {
    if (r.url() !== url) requests.push(r.url());
  });
  // Should the policy ever let one through, it still never reaches a network.
  await page.route(/^(https?|wss?):/, (route) => route.abort());
  await page.goto(url, {waitUntil: 'load'});
  return {page, errors, requests};
}

/** A full-page screenshot kept as a test artefact; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, {recursive: true});
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({path, fullPage: true});
  return path;
}
