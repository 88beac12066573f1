/**
 * Type tests that pin the plugin contract: a change that breaks a published plugin fails here.
 * Checked by `vitest --typecheck` (tsc), never executed.
 */
import {describe, expectTypeOf, it} from 'vitest';
import {
  API_VERSION,
  defineBackend,
  defineNotifier,
  defineRegisterHook,
  type BackendContribution,
  type Contribution,
  type LemHooks,
  type NotifierContribution,
  type ServerContext,
  type ServerSpec,
  type StandardSchemaV1,
} from './index.js';

declare const schema: StandardSchemaV1<unknown, {threads: number; model_path?: string}>;
const minimalServer = {argv: ['srv'], env: {}, port: 8000, readiness: {healthPath: '/health', timeoutS: 60}} satisfies ServerSpec;

describe('plugin contract', () => {
  it('pins the API version as a literal', () => {
    expectTypeOf(API_VERSION).toEqualTypeOf<1>();
    expectTypeOf<LemHooks['lem:register']['options']>().toEqualTypeOf<{apiVersion: 1; lemVersion: string}>();
    expectTypeOf<LemHooks['lem:register']['return']>().toEqualTypeOf<Contribution[]>();
  });

  it('infers the config type of a backend from its schema, into server()', () => {
    const backend = defineBackend({
      id: 'x',
      displayName: 'X',
      configSchema: schema,
      jsonSchema: {},
      gpu: 'optional',
      local: true,
      server(cfg, ctx) {
        expectTypeOf(cfg).toEqualTypeOf<{threads: number; model_path?: string}>();
        expectTypeOf(ctx).toEqualTypeOf<ServerContext>();
        return {...minimalServer, port: ctx.port};
      },
    });
    expectTypeOf(backend).toEqualTypeOf<BackendContribution<{threads: number; model_path?: string}>>();
    expectTypeOf(backend.kind).toEqualTypeOf<'backend'>();
  });

  it('requires every mandatory field and nothing else', () => {
    // @ts-expect-error gpu is required
    defineBackend({id: 'x', displayName: 'X', configSchema: schema, jsonSchema: {}, local: true, server: () => minimalServer});
    // @ts-expect-error gpu takes only required | optional | none
    defineBackend({id: 'x', displayName: 'X', configSchema: schema, jsonSchema: {}, gpu: 'yes', local: true, server: () => minimalServer});
    // @ts-expect-error readiness is required in a server spec
    const noReadiness: ServerSpec = {argv: ['a'], env: {}, port: 1};
    void noReadiness;
    // @ts-expect-error the probe is 'completion' or {path}
    const badProbe: ServerSpec = {...minimalServer, readiness: {healthPath: '/h', timeoutS: 1, probe: 'ping'}};
    void badProbe;
  });

  it('keeps the optional parts of a server spec optional and typed', () => {
    expectTypeOf<ServerSpec['files']>().toEqualTypeOf<Array<{path: string; contents: string; mode?: number}> | undefined>();
    expectTypeOf<ServerSpec['stop']>().toEqualTypeOf<{signal: NodeJS.Signals; graceS: number} | undefined>();
    expectTypeOf<ServerSpec['errorPatterns']>().toEqualTypeOf<{resource?: string[]; config?: string[]} | undefined>();
    expectTypeOf<ServerSpec['requestExtras']>().toEqualTypeOf<Record<string, unknown> | undefined>();
    expectTypeOf<BackendContribution['image']>().toEqualTypeOf<{ref: string; dockerfile: string; buildArgs?: Record<string, string>} | undefined>();
  });

  it('types notifiers: pure render to one request, optional retry hint', () => {
    const notifier = defineNotifier({
      id: 'n',
      displayName: 'N',
      configSchema: {} as StandardSchemaV1<unknown, {url: string}>,
      jsonSchema: {},
      render(event, settings) {
        expectTypeOf(settings).toEqualTypeOf<{url: string}>();
        return {url: settings.url, body: {text: event.title}};
      },
    });
    expectTypeOf(notifier).toEqualTypeOf<NotifierContribution<{url: string}>>();
    expectTypeOf<NotifierContribution['retryAfterS']>().toEqualTypeOf<((status: number, headers: Record<string, string>, body: string) => number | undefined) | undefined>();
  });

  it('types the register hook helper', () => {
    const hook = defineRegisterHook((options) => {
      expectTypeOf(options.apiVersion).toEqualTypeOf<1>();
      return [];
    });
    expectTypeOf(hook).returns.toEqualTypeOf<Promise<Contribution[]> | Contribution[]>();
  });
});
