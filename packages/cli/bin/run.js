#!/usr/bin/env node
import {execute} from '@oclif/core';

await execute({dir: import.meta.url});
// A command has finished (errors exit inside execute). A plugin may have left a timer or socket
// open, e.g. a registration hook that timed out: that must not keep lem running. On a pipe,
// stdout is written asynchronously: exiting before it drains would cut a long --json answer short,
// so the exit waits until everything written so far is flushed.
const drained = (stream) => new Promise((resolve) => (stream.writableLength === 0 ? resolve() : stream.write('', resolve)));
await Promise.all([drained(process.stdout), drained(process.stderr)]);
process.exit(process.exitCode ?? 0);
