#!/usr/bin/env node
import {execute} from '@oclif/core';

await execute({dir: import.meta.url});
// A command has finished (errors exit inside execute). A plugin may have left a timer or socket
// open, e.g. a registration hook that timed out: that must not keep lem running.
process.exit(process.exitCode ?? 0);
