import enquirer from 'enquirer';
import {
  buildImage,
  checkAnswer,
  codedError,
  currentAnswers,
  ExitCode,
  fetchAienergyscore,
  formatCodedError,
  imageStatus,
  isAienergyscoreCached,
  isCodedError,
  OPENAI_BACKEND,
  PREFERENCES,
  writeProjectConfig,
  type Answers,
  type BuildResult,
  type CodedError,
  type CurrentAnswers,
  type Diagnosis,
  type DockerEngine,
  type InitResult,
  type Preference,
  type Registry,
} from '@lem/core';
import {diagnosisLines} from './diagnosis-render.js';
import {builtLine} from './image-build.js';
import {dim, formatValue, table} from './render.js';

export interface InitSessionInput {
  registry: Registry;
  projectRoot: string;
  reconfigure: boolean;
  /** Answers from flags; the wizard asks only when `ask` is set. */
  given: Answers;
  /** A human at a terminal answers the questions (else the flags, the file and the defaults do). */
  ask: boolean;
  /** Yes to every confirmation: write the file, fetch the dataset, build the chosen images. */
  yes: boolean;
  /** Images to build (`--images`); the wizard offers these first. */
  images: string[];
  buildArgs: Record<string, string>;
  /** lem's dataset cache (`<cacheDir>/datasets`). */
  datasetCacheDir: string;
  engine: DockerEngine;
  /** Taken only for the wizard, which shows it first. */
  diagnose: () => Promise<Diagnosis>;
  out: (line: string) => void;
  note: (line: string) => void;
}

export interface InitOutcome extends InitResult {
  dataset: {fetched: boolean; prompts?: number; error?: string} | null;
  images: {built: BuildResult[]; failed: Array<{backend: string; code: string; message: string}>};
}

type Prompt<T> = {run(): Promise<T>};
type PromptClass = new (options: object) => Prompt<unknown>;
const prompts = enquirer as unknown as Record<'Input' | 'Select' | 'Confirm' | 'MultiSelect', PromptClass>;

/** Ctrl+C (or a closed terminal) at a question: nothing is written. */
const cancelled = (): CodedError =>
  codedError({code: 'E_INIT_CANCELLED', message: 'lem init was cancelled; nothing was written', try: ['lem init   # to start again'], exitCode: ExitCode.interrupted});

async function ask<T>(kind: keyof typeof prompts, options: object): Promise<T> {
  try {
    return (await new prompts[kind](options).run()) as T;
  } catch (error) {
    if (isCodedError(error)) throw error;
    throw cancelled();
  }
}

/** Checked or not in a shape, not only in a colour (NO_COLOR, and a screen read back as text). */
const indicator = (_state: unknown, choice: {enabled: boolean}) => (choice.enabled ? '[x]' : '[ ]');

/** Yes/no; `yes` answers it. A cancelled confirmation is a no. */
async function confirm(input: InitSessionInput, message: string, initial = true): Promise<boolean> {
  if (input.yes) return true;
  if (!input.ask) return false;
  return ask<boolean>('Confirm', {name: 'confirm', message, initial}).catch(() => false);
}

function choicesOf(p: Preference, registry: Registry): readonly string[] | undefined {
  if (p.key === 'backend') return [...[...registry.backends.keys()].sort(), OPENAI_BACKEND];
  return p.choices;
}

/** One question: a list for choices, yes/no for booleans, a checked line of text otherwise. */
async function question(input: InitSessionInput, p: Preference, answers: Answers, values: Answers, current: CurrentAnswers): Promise<string> {
  const initial = answers[p.key] ?? '';
  const choices = choicesOf(p, input.registry);
  const name = p.key;
  if (p.kind === 'boolean') return String(await ask<boolean>('Confirm', {name, message: p.key, initial: initial === 'true'}));
  if (p.kind === 'list') {
    const chosen = new Set(initial.split(',').filter(Boolean));
    const picked = await ask<string[]>('MultiSelect', {name, message: `${p.key} (space toggles, enter accepts)`, choices: [...choices!], initial: choices!.filter((c) => chosen.has(c)), indicator, validate: (v: string[]) => v.length > 0 || 'choose at least one'});
    return picked.join(',');
  }
  if (choices) return ask<string>('Select', {name, message: p.key, choices: [...choices], initial: Math.max(0, choices.indexOf(initial))});
  const hidden = current.hidden.includes(p.key);
  const keep = hidden ? 'enter keeps the one in the file, not shown; none removes it' : initial ? 'enter keeps it; none removes it' : 'enter for none';
  const message = p.secret ? `${p.key} (${keep})` : p.key;
  // Checked as lem will read the file, with the answers given so far (a failure to check is said, not thrown).
  const validate = async (value: string) => {
    if (p.secret && (value === '' || value === 'none')) return true;
    try {
      const problems = await checkAnswer({registry: input.registry, projectRoot: input.projectRoot, reconfigure: input.reconfigure, values: {...values, [p.key]: value}}, p.key);
      return problems.length === 0 || problems.join('; ');
    } catch (error) {
      return isCodedError(error) ? `${error.code}: ${error.message}` : String(error);
    }
  };
  return ask<string>('Input', {name, message, initial, validate});
}

/** Every preference asked in order, each with its help; those that do not apply now are kept. */
async function askPreferences(input: InitSessionInput, current: CurrentAnswers): Promise<Answers> {
  const answers: Answers = {...current.answers, ...input.given};
  const values: Answers = {...input.given};
  for (const p of PREFERENCES) {
    if (p.askedIf && !p.askedIf(answers)) continue;
    input.out(dim(`  ${p.help}${current.from[p.key] === 'file' ? ' (now: the file\'s)' : ''}`));
    const answer = await question(input, p, answers, values, current);
    if (p.secret && answer === '') {
      if (current.hidden.includes(p.key)) answers[p.key] = '(kept)';
      continue; // keeps what the file has, or none
    }
    const text = p.secret && answer === 'none' ? '' : answer;
    answers[p.key] = text;
    values[p.key] = text;
  }
  return values;
}

function renderWritten(input: InitSessionInput, result: InitResult): void {
  input.out(`${result.created ? 'Wrote' : 'Updated'} ${result.path}`);
  const from = (w: InitResult['written'][number]) => (w.from === 'given' && input.ask ? 'answered' : w.from);
  input.out(table(['PREFERENCE', 'VALUE', 'FROM'], result.written.map((w) => [w.key, formatValue(w.value), from(w)])));
  for (const name of result.unsetEnv) input.note(`note: \${${name}} is not set in this shell; set it before lem runs a campaign`);
  input.out(dim(`schema for editors: ${result.schemaPath}`));
}

/** The AI Energy Score prompts, fetched when chosen and not cached, if the user agrees. */
async function offerDataset(input: InitSessionInput, result: InitResult): Promise<InitOutcome['dataset']> {
  const kind = result.written.find((w) => w.key === 'dataset.kind')?.value;
  if (kind !== 'aienergyscore' || (await isAienergyscoreCached(input.datasetCacheDir))) return null;
  if (!(await confirm(input, 'The AI Energy Score prompts are not cached. Fetch them now?'))) {
    input.note('note: experiments refuse the aienergyscore dataset until it is fetched: lem datasets fetch aienergyscore');
    return {fetched: false};
  }
  input.out(`Fetching the AI Energy Score prompts from ${process.env.HF_ENDPOINT ?? 'https://huggingface.co'}`);
  try {
    const fetched = await fetchAienergyscore({cacheDir: input.datasetCacheDir, endpoint: process.env.HF_ENDPOINT, token: process.env.HF_TOKEN});
    input.out(`Fetched ${fetched.manifest.rows} prompts (revision ${fetched.manifest.revision}) into ${input.datasetCacheDir}`);
    return {fetched: true, prompts: fetched.manifest.rows};
  } catch (error) {
    if (!isCodedError(error)) throw error;
    input.note(`Not fetched: ${formatCodedError(error)}`);
    return {fetched: false, error: `${error.code}: ${error.message}`};
  }
}

/** Each backend's image and its state; chosen: those `--images` names, else the default backend's if it is not built. */
async function imageChoices(input: InitSessionInput, defaultBackend: unknown): Promise<Array<{id: string; state: string; chosen: boolean}>> {
  const withImage = [...input.registry.backends.values()].filter((b) => b.contribution.image).sort((a, b) => a.contribution.id.localeCompare(b.contribution.id));
  const states = await Promise.all(withImage.map((b) => imageStatus(input.engine, b).catch(() => null)));
  return withImage.map((b, i) => {
    const id = b.contribution.id;
    const state = states[i]?.present ? (states[i]!.stale ? 'stale' : 'present') : 'missing';
    return {id, state, chosen: input.images.length > 0 ? input.images.includes(id) : id === defaultBackend && state !== 'present'};
  });
}

/** Builds the images chosen (asked with the wizard, `--images` without), each with its progress. */
async function offerImages(input: InitSessionInput, result: InitResult, dockerUp: boolean): Promise<InitOutcome['images']> {
  const outcome: InitOutcome['images'] = {built: [], failed: []};
  if (!dockerUp || (!input.ask && input.images.length === 0)) return outcome;
  const choices = await imageChoices(input, result.written.find((w) => w.key === 'backend')?.value);
  let ids = choices.filter((c) => c.chosen).map((c) => c.id);
  if (input.ask && !input.yes && choices.length > 0) {
    const message = 'Build backend images now? (space toggles, enter accepts; none is fine)';
    ids = await ask<string[]>('MultiSelect', {name: 'images', message, choices: choices.map((c) => ({name: c.id, message: `${c.id} (${c.state})`})), initial: choices.filter((c) => c.chosen).map((c) => c.id), indicator}).catch(() => []);
  }
  for (const id of ids) {
    const backend = input.registry.backends.get(id)!;
    input.out(`Building ${backend.contribution.image!.ref} (${id}) on ${input.engine.host}`);
    try {
      const built = await buildImage(input.engine, backend, {buildArgs: input.buildArgs, onProgress: (line) => input.out(dim(`  ${line}`))});
      input.out(builtLine(built));
      outcome.built.push(built);
    } catch (error) {
      if (!isCodedError(error)) throw error;
      input.note(`Not built: ${id}: ${formatCodedError(error)}`);
      outcome.failed.push({backend: id, code: error.code, message: error.message});
    }
  }
  return outcome;
}

function nextStep(input: InitSessionInput, outcome: InitOutcome): void {
  const runner = outcome.written.find((w) => w.key === 'runner')?.value;
  const backend = outcome.written.find((w) => w.key === 'backend')?.value;
  if (runner === 'docker' && outcome.images.failed.some((f) => f.backend === backend)) input.out(`next: lem images build ${String(backend)}   # the default backend's image`);
  input.out('next: lem experiment <experiment.yaml>   # e.g. the quickstart in the README; lem config show lists every setting and its source');
}

/**
 * `lem init`: with `ask`, the machine's diagnosis, then every preference asked (the file's values
 * or the defaults offered), a confirmation, the file written, the dataset and images offered;
 * without, the flags written at once. Ctrl+C before the file is written writes nothing.
 */
export async function initSession(input: InitSessionInput): Promise<InitOutcome> {
  let values = input.given;
  let dockerUp = input.images.length > 0;
  if (input.ask) {
    const current = currentAnswers(input.projectRoot, input.reconfigure);
    const diagnosis = await input.diagnose();
    for (const line of diagnosisLines(diagnosis)) input.out(line);
    dockerUp = diagnosis.checks.some((c) => c.id === 'docker' && c.verdict === 'ok');
    values = await askPreferences(input, current);
    if (!input.yes && !(await ask<boolean>('Confirm', {name: 'write', message: `Write ${input.projectRoot}/.lem-config.yaml?`, initial: true}))) throw cancelled();
  }
  const result = await writeProjectConfig({registry: input.registry, projectRoot: input.projectRoot, values, reconfigure: input.reconfigure});
  renderWritten(input, result);
  const dataset = await offerDataset(input, result);
  const images = await offerImages(input, result, dockerUp);
  const outcome = {...result, dataset, images};
  nextStep(input, outcome);
  return outcome;
}
