/**
 * The schemas of lem's files. Defaults and descriptions live here and only here: `lem config
 * schema`, `lem config show`, `--dry-run` and the README's reference are all generated from them.
 *
 * Key names are the same in every file (`runner`, `dataset`, `gaps.between_experiments_s`), so a
 * setting moves between `.lem-config.yaml`, an experiment and a campaign without renaming.
 */
import {z} from 'zod';

/** Ids of backends and notifiers: lowercase, digits and dashes. */
export const idSchema = z.string().regex(/^[a-z][a-z0-9-]*$/, 'ids are lowercase letters, digits and dashes, starting with a letter');

export const runnerSchema = z
  .enum(['local', 'docker'])
  .describe('Where servers run: `local` (host processes) or `docker` (containers). CLI: --runner.');

export const datasetSchema = z
  .discriminatedUnion('kind', [
    z
      .object({
        kind: z.literal('builtin').describe('The prompt set shipped with lem.'),
        n_prompts: z.number().int().positive().optional().describe('How many prompts to send (default: all of the set).'),
        seed: z.number().int().nonnegative().default(0).describe('Seed for sampling and ordering prompts.'),
        max_input_tokens: z.number().int().positive().optional().describe("Truncate prompts to this many tokens (by the server's tokenizer)."),
      })
      .strict(),
    z
      .object({
        kind: z.literal('synthetic').describe('Random-word prompts of a fixed token length.'),
        input_tokens: z
          .number()
          .int()
          .positive()
          .describe(
            "Prompt length in tokens: exact by the server's tokenizer where the backend has one, otherwise approximate (one common word per token); the result says which.",
          ),
        n_prompts: z.number().int().positive().default(100).describe('How many prompts to make.'),
        seed: z.number().int().nonnegative().default(0).describe('Seed of the generator.'),
      })
      .strict(),
    z
      .object({
        kind: z.literal('file').describe('A local JSONL, CSV or TXT file.'),
        path: z.string().min(1).describe('Path of the file, relative to the file that names it.'),
        column: z.string().min(1).optional().describe('JSONL field or CSV column holding the prompt (default: `prompt` or `text`).'),
        n_prompts: z.number().int().positive().optional().describe('How many prompts to send (default: all).'),
        seed: z.number().int().nonnegative().default(0).describe('Seed for sampling and ordering prompts.'),
        max_input_tokens: z.number().int().positive().optional().describe("Truncate prompts to this many tokens (by the server's tokenizer)."),
      })
      .strict(),
    z
      .object({
        kind: z.literal('aienergyscore').describe("AI Energy Score's text-generation prompts, fetched once by `lem datasets fetch`."),
        revision: z.string().min(1).optional().describe('Dataset revision (default: the revision pinned by lem).'),
        n_prompts: z.number().int().positive().default(1000).describe('How many prompts to send.'),
        seed: z.number().int().nonnegative().default(0).describe('Seed for sampling and ordering prompts.'),
        max_input_tokens: z.number().int().positive().optional().describe("Truncate prompts to this many tokens (by the server's tokenizer)."),
      })
      .strict(),
  ])
  .describe('Where prompts come from.');

export const verbositySchema = z.enum(['quiet', 'normal', 'verbose']).describe('How much lem prints. CLI: --quiet / --verbose.');
export type Verbosity = z.output<typeof verbositySchema>;

export const dockerSchema = z
  .object({
    host: z.string().min(1).optional().describe('Docker engine address (default: $DOCKER_HOST, else the local socket).'),
    strategy: z
      .enum(['ephemeral', 'persistent'])
      .default('ephemeral')
      .describe("`ephemeral`: a container per experiment; `persistent`: one long-lived container per backend, servers exec'd in it (always confirmed; --yes answers). CLI: --container-strategy."),
    startup: z.enum(['eager', 'lazy']).default('eager').describe('Persistent containers: start all before the first experiment (`eager`) or on first use (`lazy`).'),
    warmup_delay_s: z
      .number()
      .nonnegative()
      .default(0)
      .describe('Seconds to wait after a container starts (every run when ephemeral, once per container when persistent), after readiness and before warm-up; excluded from every figure.'),
    auto_teardown: z
      .boolean()
      .default(true)
      .describe('Remove persistent containers when the campaign ends; false keeps them (labelled `lem.keep=true`) for a later run to adopt (`lem containers list|prune`).'),
    mounts: z
      .array(z.string().regex(/^[^:]+:\/[^:]*(:(ro|rw))?$/, 'a mount is host-path:/container-path, optionally :ro or :rw'))
      .default([])
      .describe('Extra bind mounts for every container, `host-path:/container-path[:ro]` (caches, model folders); a relative host path hangs from the project root.'),
  })
  .strict()
  .describe('Container settings (runner: docker).');

export const gapsSchema = z
  .object({
    between_experiments_s: z.number().nonnegative().default(60).describe('Pause between two runs, from the end of the previous teardown.'),
    between_cycles_s: z.number().nonnegative().default(300).describe('Pause before the first run of each cycle after the first.'),
    cooldown: z
      .object({
        enabled: z.boolean().default(false).describe('Also wait until GPU temperature is back near its idle value.'),
        delta_c: z.number().positive().default(3).describe('Degrees Celsius above idle temperature that count as cooled down.'),
        timeout_s: z.number().positive().default(600).describe('Give up waiting after this long (and warn).'),
      })
      .strict()
      .prefault({})
      .describe('Cool-down to temperature between runs.'),
  })
  .strict()
  .describe('Thermal gaps between runs of a campaign.');

export const retrySchema = z
  .object({
    max_attempts: z
      .number()
      .int()
      .nonnegative()
      .default(1)
      .describe('Additional attempts, with the same settings, for a run that failed with `runtime` or `resource`.'),
  })
  .strict()
  .describe('Retrying failed runs.');

export const failureThresholdSchema = z
  .object({
    ratio: z.number().min(0).max(1).default(0.5).describe('Pause when failed ÷ finished runs in scope exceeds this.'),
    scope: z.enum(['campaign', 'per_cycle']).default('campaign').describe('Count failures over the whole campaign or per cycle.'),
    min_finished: z.number().int().positive().default(4).describe('Evaluate only once this many runs have finished in scope.'),
    prompt_timeout_s: z.number().positive().default(1800).describe('Without an answer to the pause prompt by then, stop resumably (exit 3).'),
  })
  .strict()
  .describe('When a campaign stops asking and pauses.');

export const workloadSchema = z
  .object({
    api: z.enum(['completions', 'chat']).default('completions').describe('Endpoint driven: `/v1/completions` or `/v1/chat/completions`.'),
    concurrency: z.number().int().positive().default(1).describe('Requests in flight (closed loop). Ignored when `request_rate` is set.'),
    request_rate: z
      .union([z.number().positive(), z.literal('inf')])
      .optional()
      .describe('Open loop: Poisson arrivals at this many requests/s, or `inf` for a burst.'),
    max_output_tokens: z.number().int().positive().default(128).describe('`max_tokens` of every request.'),
    fixed_output_length: z
      .boolean()
      .default(true)
      .describe("Ask the server to ignore end-of-sequence so every request produces `max_output_tokens` (the backend's request extras)."),
    temperature: z.number().min(0).default(0).describe('Sampling temperature (0 = greedy).'),
    seed: z.number().int().nonnegative().default(0).describe('Seed of arrivals and of sampling requests.'),
    request_timeout_s: z.number().positive().default(300).describe('A request taking longer fails (`timeout`).'),
  })
  .strict()
  .describe('How requests are sent.');

export const warmupSchema = z
  .object({
    mode: z.enum(['convergence', 'fixed']).default('convergence').describe('`convergence`: until per-request ITL settles; `fixed`: exactly `requests`.'),
    requests: z.number().int().nonnegative().default(5).describe('Warm-up requests in `fixed` mode.'),
    min_requests: z.number().int().positive().default(3).describe('Convergence: at least this many.'),
    max_requests: z.number().int().positive().default(20).describe('Convergence: at most this many (then `warmupConverged: false`).'),
    cv_threshold: z.number().positive().max(1).default(0.05).describe('Convergence: coefficient of variation of ITL over the window below this.'),
    window: z.number().int().min(2).default(3).describe('Convergence: requests the CV is computed over.'),
  })
  .strict()
  .describe('Requests sent before measuring, excluded from every figure.');

/**
 * A schema issue may carry `params.suggest`: values for the key at its path that would fix it,
 * each with why; the resolver writes them as Try lines in the syntax of wherever the key was set.
 */
export interface SuggestedValue {
  value: unknown;
  why: string;
}

/**
 * RAPL measures the CPU socket; `cpu-estimate` estimates the energy of the server's CPU time. Both
 * are CPU energy, and the total adds every meter, so together they would count the CPU twice.
 */
function refuseDoubleCpuCount(meters: string[], ctx: z.RefinementCtx): void {
  if (!meters.includes('rapl') || !meters.includes('cpu-estimate')) return;
  const suggest: SuggestedValue[] = [
    {value: meters.filter((m) => m !== 'cpu-estimate'), why: 'keep rapl: the socket\'s own counters, where the CPU has them'},
    {value: meters.filter((m) => m !== 'rapl'), why: 'keep cpu-estimate: only where no CPU counter exists'},
  ];
  ctx.addIssue({
    code: 'custom',
    message: 'rapl and cpu-estimate both measure the CPU (RAPL the whole socket, cpu-estimate the server\'s CPU time); the total would count CPU energy twice',
    params: {suggest},
  });
}

export const measureSchema = z
  .object({
    baseline_s: z.number().nonnegative().default(10).describe('Idle seconds, model loaded and warm, to measure idle power before the workload.'),
    idle_settle_s: z
      .number()
      .nonnegative()
      .default(2)
      .describe(
        'Seconds after warm-up, before the idle baseline, for the devices to settle (a GPU stays in a high P-state and NVML power lags about 1 s after load); excluded from every figure.',
      ),
    sample_interval_ms: z.number().int().min(5).max(10_000).default(100).describe('Meter sampling period.'),
    meters: z
      .array(z.enum(['nvml', 'rapl', 'cpu-estimate']))
      .superRefine(refuseDoubleCpuCount)
      .optional()
      .describe(
        'Meters to use (default: every meter available here; `cpu-estimate` only where no CPU counter exists). Not `rapl` with `cpu-estimate`: both measure the CPU.',
      ),
  })
  .strict()
  .describe('Energy measurement.');

/** Keys an experiment file refuses with a pointer to campaigns (DESIGN §1.3). */
export const REPETITION_KEYS = ['cycles', 'repeat', 'repeats', 'repetitions', 'runs', 'iterations'] as const;

/**
 * Settings that may come from `.lem-config.yaml` and are overridden by experiment or campaign
 * files and CLI flags. Each has a default.
 */
export const projectShape = {
  runner: runnerSchema.default('local'),
  backend: idSchema.default('llamacpp').describe('Backend used when a file does not name one.'),
  dataset: datasetSchema.default({kind: 'builtin', seed: 0}),
  results_dir: z.string().min(1).default('results').describe('Where results are written, relative to the project root. CLI: --results-dir.'),
  verbosity: verbositySchema.default('normal'),
  docker: dockerSchema.prefault({}),
  reuse_server: z
    .boolean()
    .default(false)
    .describe(
      'Keep a server running for the next run when it is an identical launch, on any runner (warm caches). Decided per configuration when the plan is made, so a configuration never mixes fresh and reused runs; results record `serverReused`.',
    ),
  gaps: gapsSchema.prefault({}),
  retry: retrySchema.prefault({}),
  failure_threshold: failureThresholdSchema.prefault({}),
  notifications: z
    .record(idSchema, z.unknown())
    .default({})
    .describe('Per notifier id (`slack`, `discord`, …): its settings, validated by that notifier. Secrets as `${ENV_VAR}`.'),
};

/** `.lem-config.yaml`. Backend sections (`llamacpp:`) are allowed too and validated by their plugin. */
export const projectConfigSchema = z.object(projectShape).strict().describe('Project preferences: `.lem-config.yaml`, written by `lem init`.');

/** Settings only an experiment has. */
export const experimentShape = {
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a name is letters, digits, dots, dashes and underscores')
    .optional()
    .describe("The experiment's name, used in result folder names (default: the file name)."),
  description: z.string().optional().describe('Free text kept in the result.'),
  model: z.string().min(1).describe('The model: a GGUF path for llamacpp, a hub id or folder for others, the served name for `openai`.'),
  base_url: z.url().optional().describe('`backend: openai` only: the endpoint to measure, e.g. http://127.0.0.1:8000/v1.'),
  api_key_env: z
    .string()
    .regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name')
    .optional()
    .describe('`backend: openai` only: the environment variable holding the API key.'),
  gpus: z
    .array(z.union([z.number().int().nonnegative(), z.string().regex(/^GPU-[0-9a-fA-F-]+$/, 'a GPU UUID such as GPU-8b2c…')]))
    .default([])
    .describe('GPUs given to this experiment, by index or UUID (indices are resolved to UUIDs).'),
  workload: workloadSchema.prefault({}),
  warmup: warmupSchema.prefault({}),
  measure: measureSchema.prefault({}),
};

/** The effective settings of one experiment: project settings overridden by the experiment file. */
export const experimentSettingsSchema = z.object({...projectShape, ...experimentShape}).strict();

/** An experiment file: what it may contain (the project's keys too, except campaign-only ones). */
export const experimentFileSchema = z
  .object({
    ...experimentShape,
    runner: runnerSchema.optional(),
    backend: idSchema.optional().describe('Backend id (`llamacpp`, `vllm`, `openai`, …); its section holds its settings.'),
    dataset: datasetSchema.optional(),
    results_dir: projectShape.results_dir.optional(),
    docker: dockerSchema.optional(),
    reuse_server: projectShape.reuse_server.optional(),
  })
  .strict()
  .describe('One experiment: one model, one backend configuration, one workload, measured once.');

export type ProjectSettings = z.output<typeof projectConfigSchema>;
export type ExperimentSettings = z.output<typeof experimentSettingsSchema>;
export type DatasetSpec = z.output<typeof datasetSchema>;
