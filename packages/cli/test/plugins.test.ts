import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';
import {echoBackend, externalPlugin, freshHome, lem} from './helpers.js';

describe('plugins linked from outside the workspace', () => {
  it('a linked backend appears in `lem backends`, its section is validated, and unlinking removes it', () => {
    const home = freshHome();
    const dir = externalPlugin('lem-backend-echo', echoBackend('echo'));
    const link = lem(['plugins', 'link', dir, '--no-install'], {home});
    expect(link.status, link.stderr).toBe(0);

    const listed = lem(['backends', '--json'], {home});
    expect(listed.status, listed.stderr).toBe(0);
    const json = JSON.parse(listed.stdout) as {backends: Array<{id: string; plugin: string; version: string}>; problems: unknown[]};
    expect(json.backends.find((b) => b.id === 'echo')).toMatchObject({plugin: 'lem-backend-echo', version: '3.2.1'});
    expect(json.problems).toEqual([]);

    const text = lem(['backends'], {home});
    expect(text.stdout).toMatch(/^echo\s+Echo \(echo\)\s+lem-backend-echo@3\.2\.1/m);

    // The plugin's section is validated by the plugin's own Standard Schema, with a position.
    const project = mkdtempSync(join(tmpdir(), 'lem-proj-'));
    writeFileSync(join(project, 'e.yaml'), 'model: m\nbackend: echo\necho:\n  flavour: 3\n');
    const invalid = lem(['config', 'validate', 'e.yaml'], {home, cwd: project});
    expect(invalid.status).toBe(2);
    expect(invalid.stderr).toContain('e.yaml:4:12 echo.flavour: flavour must be text');
    writeFileSync(join(project, 'e.yaml'), 'model: m\nbackend: echo\necho:\n  flavour: sour\n');
    expect(lem(['config', 'validate', 'e.yaml'], {home, cwd: project}).status).toBe(0);

    // `config schema` carries the plugin's JSON Schema.
    const schema = JSON.parse(lem(['config', 'schema'], {home}).stdout) as {properties: Record<string, {properties?: object}>};
    expect(schema.properties.echo?.properties).toEqual({flavour: {type: 'string'}});

    expect(lem(['plugins', 'unlink', 'lem-backend-echo'], {home}).status).toBe(0);
    const after = JSON.parse(lem(['backends', '--json'], {home}).stdout) as {backends: Array<{id: string}>};
    expect(after.backends.map((b) => b.id)).not.toContain('echo');
  });

  it('a plugin whose hook throws is a named warning, and the other backends still work', () => {
    const home = freshHome();
    const dir = externalPlugin('lem-backend-broken', 'export default async function () { throw new Error("cannot find my engine"); }\n');
    expect(lem(['plugins', 'link', dir, '--no-install'], {home}).status).toBe(0);
    const run = lem(['backends'], {home});
    expect(run.status).toBe(0);
    expect(run.stderr).toContain('E_PLUGIN_HOOK_FAILED: plugin lem-backend-broken@3.2.1 failed to register: cannot find my engine');
    expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(run.stdout).toMatch(/^llamacpp\s/m);
    const json = JSON.parse(lem(['backends', '--json'], {home}).stdout) as {problems: Array<{plugin: string; code: string}>};
    expect(json.problems).toEqual([expect.objectContaining({plugin: 'lem-backend-broken', code: 'E_PLUGIN_HOOK_FAILED'})]);
  });

  it('two plugins claiming one id are reported, and selecting that id is an error', () => {
    const home = freshHome();
    expect(lem(['plugins', 'link', externalPlugin('lem-backend-twin-a', echoBackend('twin')), '--no-install'], {home}).status).toBe(0);
    expect(lem(['plugins', 'link', externalPlugin('lem-backend-twin-b', echoBackend('twin')), '--no-install'], {home}).status).toBe(0);
    const run = lem(['backends'], {home});
    expect(run.stderr).toMatch(/E_PLUGIN_DUPLICATE_ID: backend id "twin" is registered by lem-backend-twin-(a|b) and lem-backend-twin-(a|b)/);
    const project = mkdtempSync(join(tmpdir(), 'lem-proj-'));
    mkdirSync(join(project, 'sub'));
    writeFileSync(join(project, 'sub', 'e.yaml'), 'model: m\nbackend: twin\n');
    const validate = lem(['config', 'validate', 'sub/e.yaml'], {home, cwd: project});
    expect(validate.status).toBe(2);
    expect(validate.stderr).toContain('Error E_BACKEND_AMBIGUOUS');
    expect(validate.stderr).toMatch(/Try: lem plugins uninstall lem-backend-twin-/);
  });
});

describe('plugin registration timeout', () => {
  it('a hook that never answers is a named warning after the timeout, and lem still exits', () => {
    const home = freshHome();
    // One hook waits on a promise nothing settles, the other holds a long timer open.
    const stuck = externalPlugin('lem-backend-stuck', 'export default function () { return new Promise(() => {}); }\n');
    const slow = externalPlugin('lem-backend-slow', 'export default function () { return new Promise((r) => setTimeout(() => r([]), 600000)); }\n');
    expect(lem(['plugins', 'link', stuck, '--no-install'], {home}).status).toBe(0);
    expect(lem(['plugins', 'link', slow, '--no-install'], {home}).status).toBe(0);
    const t0 = Date.now();
    const run = lem(['backends', '--json'], {home});
    const elapsedMs = Date.now() - t0;
    expect(run.status, run.stderr).toBe(0);
    const json = JSON.parse(run.stdout) as {backends: Array<{id: string}>; problems: Array<{plugin: string; message: string}>};
    expect(json.backends.map((b) => b.id)).toContain('llamacpp');
    expect(json.problems.map((p) => p.plugin).sort()).toEqual(['lem-backend-slow', 'lem-backend-stuck']);
    expect(json.problems[0]?.message).toContain('Timed out after 5000 ms');
    // Generous bound: the point is that lem does not wait for the 10-minute timer.
    expect(elapsedMs).toBeLessThan(30_000);
  });
});
