// Runs one of this plugin's oclif commands as the `lem` CLI would: node run-command.mjs llamacpp tiny-model OUT ...
import {flush, handle, run} from '@oclif/core';

const root = new URL('../../package.json', import.meta.url).pathname;
await run(process.argv.slice(2), root).then(flush, handle);
