#!/usr/bin/env -S node --import tsx
// Runs the CLI from TypeScript sources (`make dev`): oclif maps dist/ back to src/ through tsx.
import {execute} from '@oclif/core';

await execute({development: true, dir: import.meta.url});
