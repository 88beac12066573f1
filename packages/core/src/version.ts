import {readFileSync} from 'node:fs';

/** @lem/core's version, read from its package.json (recorded as provenance in results). */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {version: string}).version;
