#!/usr/bin/env node
// `pnpm run schemas`: regenerates schemas/*.schema.json with `lem config schema` (bundled plugins
// only) and the configuration reference in README.md from them. A test fails when either drifts.
import {spawnSync} from 'node:child_process';
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {renderReference} from './config-reference.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const home = mkdtempSync(join(tmpdir(), 'lem-schemas-'));
const env = {...process.env, LEM_DATA_DIR: join(home, 'data'), LEM_CACHE_DIR: join(home, 'cache'), LEM_CONFIG_DIR: join(home, 'config')};
for (const [kind, file] of [['experiment', 'schemas/experiment.schema.json'], ['project', 'schemas/lem-config.schema.json'], ['campaign', 'schemas/campaign.schema.json']]) {
  const r = spawnSync(process.execPath, [join(root, 'packages/cli/bin/run.js'), 'config', 'schema', '--kind', kind], {env, cwd: home, encoding: 'utf8'});
  if (r.status !== 0) throw new Error(`lem config schema --kind ${kind} failed: ${r.stderr}`);
  writeFileSync(join(root, file), r.stdout);
}
const readme = join(root, 'README.md');
writeFileSync(readme, renderReference(readFileSync(readme, 'utf8'), root));
console.log('wrote schemas/experiment.schema.json, schemas/lem-config.schema.json, schemas/campaign.schema.json and the README reference');
