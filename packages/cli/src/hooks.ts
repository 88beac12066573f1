import type {LemHooks} from '@lem/plugin-kit';

// Declares lem's custom hooks to oclif, so `config.runHook('lem:register', …)` is typed.
declare module '@oclif/core/interfaces' {
  interface Hooks extends LemHooks {}
}

export {};
