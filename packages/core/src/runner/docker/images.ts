/**
 * Backend images (DESIGN §4): whether each backend's image is on the engine and built from what
 * is installed now, the one check a docker run makes before its first experiment (missing: stop,
 * naming `lem images build <id>`; stale: a warning), `lem images list` and `lem images build`.
 *
 * An image built by lem carries two labels that make staleness a pure comparison:
 * `lem.plugin.version` (the plugin that described it) and `lem.dockerfile.hash` (the sha256 of its
 * build context: the Dockerfile's folder, so the Dockerfile and every file it may COPY; 16 hex digits). Nothing
 * here pulls, and a build whose base would need a pull from a registry that cannot be reached
 * fails at once (E_IMAGE_BASE_UNAVAILABLE) instead of waiting on the engine.
 */
import {createHash} from 'node:crypto';
import {readdirSync, readFileSync, statSync} from 'node:fs';
import {request as httpsRequest} from 'node:https';
import {connect} from 'node:net';
import {dirname, join, relative, sep} from 'node:path';
import type {Readable} from 'node:stream';
import type {ImageSpec} from '@lem/plugin-kit';
import {codedError, configError, ExitCode, type CodedError} from '../../errors.js';
import type {RegisteredBackend} from '../../registry.js';
import {Labels, unreachable, type DockerEngine} from './engine.js';

/** Set by a backend's Dockerfile (`LABEL lem.image.source=${LEM_SOURCE}`): `npm` or `mounted`. */
export const IMAGE_SOURCE_LABEL = 'lem.image.source';
/** Docker Hub's registry, where a reference that names no registry host is pulled from. */
export const DEFAULT_REGISTRY = 'registry-1.docker.io';
/** How long the registry check before a build waits: without a registry, a build fails this fast. */
export const REGISTRY_PROBE_TIMEOUT_MS = 3_000;

/** One backend's image as the engine has it, against what the installed plugin would build. */
export interface ImageStatus {
  backend: string;
  /** `<plugin name>@<version>` that registered the backend. */
  plugin: string;
  ref: string;
  present: boolean;
  /** The image id (`sha256:…`), or null when absent. */
  id: string | null;
  sizeBytes: number | null;
  /** ISO 8601 build time, or null when absent. */
  createdAt: string | null;
  /** The `lem.plugin.version` label: the plugin version it was built from (null: absent or unlabelled). */
  pluginVersion: string | null;
  /** The `lem.dockerfile.hash` label (null: absent or unlabelled). */
  dockerfileHash: string | null;
  /** The `lem.image.source` label: `npm`, `mounted`, or null. */
  source: string | null;
  /** What a build now would label it with; the hash is null when the build context cannot be read. */
  expected: {pluginVersion: string; dockerfileHash: string | null};
  /** True when present but built from another plugin version or another build context. */
  stale: boolean;
  /** Why it is stale, or (when not stale) why staleness could not be fully judged; else null. */
  staleReason: string | null;
}

export interface ImageWarning {
  code: 'W_IMAGE_STALE';
  backend: string;
  message: string;
}

/** The answer of {@link checkImages}: every image is present; some may be stale. */
export interface ImageCheck {
  statuses: ImageStatus[];
  warnings: ImageWarning[];
}


const pluginOf = (b: RegisteredBackend): string => `${b.plugin.name}@${b.plugin.version}`;

/** The image of `backend`, or E_NO_IMAGE: a backend without one cannot run in a container. */
export function requireImage(backend: RegisteredBackend): ImageSpec {
  const image = backend.contribution.image;
  if (image) return image;
  throw noImageError([backend]);
}

function noImageError(backends: RegisteredBackend[]): CodedError {
  const one = backends.length === 1;
  return configError(
    'E_NO_IMAGE',
    `${backends.map((b) => `backend "${b.contribution.id}" (${pluginOf(b)})`).join(', ')} ${one ? 'has' : 'have'} no container image: ${one ? 'it' : 'they'} cannot run under the docker runner`,
    [
      ...(backends.every((b) => b.contribution.local) ? ['--runner local   # run the server as a host process instead'] : []),
      ...backends.map((b) => `lem plugins install ${b.plugin.name}   # a version that ships an image, if there is one`),
    ],
  );
}

/** The status of one backend's image: one `inspect` on the engine and a hash of the build context. */
export async function imageStatus(engine: DockerEngine, backend: RegisteredBackend): Promise<ImageStatus> {
  const image = requireImage(backend);
  let expectedHash: string | null = null;
  let contextProblem: string | null = null;
  try {
    expectedHash = readBuildContext(image.dockerfile).hash;
  } catch (error) {
    contextProblem = (error as Error).message;
  }
  const info = await inspectImage(engine, image.ref);
  const labels = info?.Config?.Labels ?? {};
  const status: ImageStatus = {
    backend: backend.contribution.id,
    plugin: pluginOf(backend),
    ref: image.ref,
    present: info !== null,
    id: info?.Id ?? null,
    sizeBytes: info?.Size ?? null,
    createdAt: info?.Created ?? null,
    pluginVersion: labels[Labels.pluginVersion] ?? null,
    dockerfileHash: labels[Labels.dockerfileHash] ?? null,
    source: labels[IMAGE_SOURCE_LABEL] ?? null,
    expected: {pluginVersion: backend.plugin.version, dockerfileHash: expectedHash},
    stale: false,
    staleReason: null,
  };
  const reasons = status.present ? staleReasons(status) : [];
  status.stale = reasons.length > 0;
  if (status.stale) status.staleReason = reasons.join('; ');
  else if (status.present && contextProblem) status.staleReason = `build context not checked: ${contextProblem}`;
  return status;
}

/**
 * Why a present image does not match what a build now would make. Pure. An image without lem's
 * labels (built by hand, or by another tool) is stale: nothing says what it was built from.
 */
export function staleReasons(status: Pick<ImageStatus, 'pluginVersion' | 'dockerfileHash' | 'expected'>): string[] {
  const reasons: string[] = [];
  if (status.pluginVersion === null) reasons.push(`no ${Labels.pluginVersion} label (not built by lem images build)`);
  else if (status.pluginVersion !== status.expected.pluginVersion) reasons.push(`built from plugin version ${status.pluginVersion}, installed is ${status.expected.pluginVersion}`);
  if (status.expected.dockerfileHash !== null) {
    if (status.dockerfileHash === null) reasons.push(`no ${Labels.dockerfileHash} label`);
    else if (status.dockerfileHash !== status.expected.dockerfileHash) reasons.push('its Dockerfile or build context changed since it was built');
  }
  return reasons;
}

interface InspectInfo {
  Id: string;
  /** `repo@sha256:…` for each registry the image was pulled from; empty for one built or loaded here. */
  RepoDigests?: string[] | null;
  Size?: number;
  Created?: string;
  Config?: {Labels?: Record<string, string> | null};
}

/** The engine's inspect of `ref`, or null when it has no such image; an unreachable engine is E_DOCKER_UNREACHABLE. */
async function inspectImage(engine: DockerEngine, ref: string): Promise<InspectInfo | null> {
  try {
    return (await engine.docker.getImage(ref).inspect()) as InspectInfo;
  } catch (error) {
    const status = (error as {statusCode?: number}).statusCode;
    if (status === 404) return null;
    if (status === undefined) throw unreachable(engine, error);
    throw codedError({
      code: 'E_DOCKER_FAILED',
      message: `the Docker engine at ${engine.host} could not inspect ${ref}: ${engineMessage(error)}`,
      try: ['docker info   # is the engine healthy?'],
      exitCode: ExitCode.runsFailed,
    });
  }
}

/** The engine's own words for a failed request (docker-modem puts them in `json.message`). */
function engineMessage(error: unknown): string {
  const json = (error as {json?: {message?: string}}).json;
  return (json?.message ?? (error as Error).message ?? String(error)).trim();
}

/**
 * The check before a docker run (DESIGN §4): one inspect per image, in parallel. Throws ONE
 * E_NO_IMAGE for backends without an image, else ONE E_IMAGE_MISSING naming every missing image
 * with a Try line per backend (exit 2: nothing has run); stale images are warnings.
 */
export async function checkImages(engine: DockerEngine, backends: RegisteredBackend[]): Promise<ImageCheck> {
  const unique = [...new Map(backends.map((b) => [b.contribution.id, b])).values()];
  const imageless = unique.filter((b) => !b.contribution.image);
  if (imageless.length > 0) throw noImageError(imageless);
  const statuses = await Promise.all(unique.map((b) => imageStatus(engine, b)));
  const missing = statuses.filter((s) => !s.present);
  if (missing.length > 0) {
    throw configError(
      'E_IMAGE_MISSING',
      `image(s) missing: ${missing.map((s) => `${s.ref} (${s.backend})`).join(', ')}, on the Docker engine at ${engine.host}; nothing was started`,
      missing.map((s) => `lem images build ${s.backend}`),
      missing.map((s) => ({path: s.backend, message: `${s.ref} is not on the engine`})),
    );
  }
  const warnings = statuses
    .filter((s) => s.stale)
    .map((s): ImageWarning => ({code: 'W_IMAGE_STALE', backend: s.backend, message: `image ${s.ref} of backend ${s.backend} is stale: ${s.staleReason}; lem images build ${s.backend} rebuilds it`}));
  return {statuses, warnings};
}

/** `lem images list`: the status of the image of every backend that has one, by backend id (duplicates once). */
export async function imageList(engine: DockerEngine, backends: RegisteredBackend[]): Promise<ImageStatus[]> {
  const unique = [...new Map(backends.map((b) => [b.contribution.id, b])).values()];
  const sorted = unique.filter((b) => b.contribution.image).sort((a, b) => a.contribution.id.localeCompare(b.contribution.id));
  return Promise.all(sorted.map((b) => imageStatus(engine, b)));
}

// ---------------------------------------------------------------------------------------------
// Build context

export interface BuildContext {
  /** The folder sent to the engine: the Dockerfile's own folder. */
  dir: string;
  /** The Dockerfile's path inside `dir`, with `/` separators. */
  dockerfile: string;
  /** Every regular file under `dir`, relative, with `/` separators, sorted. */
  files: string[];
  /** The first 16 hex digits of the sha256 over each file's relative path and contents: the `lem.dockerfile.hash` label. */
  hash: string;
}

/**
 * Reads the build context of `dockerfile`: its whole folder. The hash covers exactly what is sent
 * to the engine, so a change to the Dockerfile or to any file it COPYs makes the image stale.
 * Throws E_IMAGE_DOCKERFILE_MISSING when the Dockerfile cannot be read.
 */
export function readBuildContext(dockerfile: string): BuildContext {
  const dir = dirname(dockerfile);
  try {
    statSync(dockerfile);
  } catch (error) {
    throw configError('E_IMAGE_DOCKERFILE_MISSING', `the Dockerfile ${dockerfile} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, [
      'reinstall the plugin that provides this backend: lem plugins install <plugin>',
    ]);
  }
  const files = listFiles(dir).sort();
  const hash = createHash('sha256');
  for (const file of files) hash.update(`${file}\0`).update(readFileSync(join(dir, file))).update('\0');
  return {dir, dockerfile: relative(dir, dockerfile).split(sep).join('/'), files, hash: hash.digest('hex').slice(0, DOCKERFILE_HASH_LENGTH)};
}

/** How many hex digits of the sha256 the `lem.dockerfile.hash` label keeps. */
export const DOCKERFILE_HASH_LENGTH = 16;

/**
 * The `lem.dockerfile.hash` a build of `backend`'s image now would carry: the sha256 (first 16
 * hex digits) of its Dockerfile and every file in the Dockerfile's folder, by sorted name.
 * Throws E_NO_IMAGE (no image) or E_IMAGE_DOCKERFILE_MISSING (the Dockerfile cannot be read).
 */
export function dockerfileHash(backend: RegisteredBackend): string {
  return readBuildContext(requireImage(backend).dockerfile).hash;
}

function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(dir, prefix), {withFileTypes: true})) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...listFiles(dir, path));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Base images

/** An image a build needs from outside its Dockerfile: a `FROM` base or a `COPY --from` image. */
export interface BaseImage {
  ref: string;
  /** The global ARGs the reference was made from (e.g. `BASE`): a `--build-arg` replaces it. */
  args: string[];
}

/**
 * The images a Dockerfile builds on, as the classic builder resolves them: logical lines joined,
 * comments dropped, global `ARG`s (those before the first `FROM`) with their defaults replaced by
 * `buildArgs`, substituted into each `FROM`; stage names, stage indices and `scratch` skipped.
 * Pure. Throws E_IMAGE_DOCKERFILE_INVALID for a `FROM` that resolves to nothing.
 */
export function dockerfileBases(text: string, buildArgs: Record<string, string> = {}, options: {copyFrom?: boolean} = {}): BaseImage[] {
  const globals = new Map<string, string>();
  const stages = new Set<string>();
  const bases = new Map<string, BaseImage>();
  const add = (ref: string, args: string[]) => {
    if (ref !== 'scratch' && !/^\d+$/.test(ref) && !stages.has(ref.toLowerCase()) && !bases.has(ref)) bases.set(ref, {ref, args});
  };
  let seenFrom = false;
  for (const line of logicalLines(text)) {
    const [instruction = '', ...words] = line.split(/\s+/);
    const keyword = instruction.toUpperCase();
    if (keyword === 'ARG' && !seenFrom) {
      for (const word of words) declareArg(globals, word, buildArgs);
    } else if (keyword === 'FROM') {
      seenFrom = true;
      const [image = '', as, name] = words.filter((w) => !w.startsWith('--'));
      const used: string[] = [];
      const ref = substitute(image, globals, used);
      if (!ref) throw configError('E_IMAGE_DOCKERFILE_INVALID', `"FROM ${image}" resolves to an empty image name`, [`--build-arg ${used[0] ?? 'BASE'}=<image>`]);
      add(ref, used);
      if (as?.toUpperCase() === 'AS' && name) stages.add(name.toLowerCase());
    } else if (keyword === 'COPY' && options.copyFrom !== false) {
      const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
      if (from) add(from, []);
    }
  }
  return [...bases.values()];
}

/**
 * The base images of a Dockerfile's `FROM` lines, as the builder resolves them: the global `ARG`
 * defaults (those before the first `FROM`) and `buildArgs` substituted (`${X}` and `$X`); stage
 * names (`AS name`) and `scratch` skipped. Pure.
 */
export function fromImages(dockerfileText: string, buildArgs: Record<string, string> = {}): string[] {
  return dockerfileBases(dockerfileText, buildArgs, {copyFrom: false}).map((b) => b.ref);
}

/** `ARG NAME[=default]`: a build argument wins over the default; without either the name is unset. */
function declareArg(globals: Map<string, string>, word: string, buildArgs: Record<string, string>): void {
  const eq = word.indexOf('=');
  const name = eq === -1 ? word : word.slice(0, eq);
  const value = buildArgs[name] ?? (eq === -1 ? undefined : word.slice(eq + 1).replace(/^"(.*)"$/, '$1').replace(/^'(.*)'$/, '$1'));
  if (value !== undefined) globals.set(name, value);
  else globals.delete(name);
}

/** The Dockerfile's instructions, one per entry: continuation lines joined, comments and blanks dropped. */
function logicalLines(text: string): string[] {
  const lines: string[] = [];
  let current = '';
  for (const raw of text.split(/\r?\n/)) {
    const trimmed = raw.trim();
    if (trimmed.startsWith('#') || trimmed === '') continue;
    if (trimmed.endsWith('\\')) {
      current += `${trimmed.slice(0, -1)} `;
      continue;
    }
    lines.push(`${current}${trimmed}`.trim());
    current = '';
  }
  if (current.trim()) lines.push(current.trim());
  return lines;
}

/** `$NAME`, `${NAME}`, `${NAME:-default}` and `${NAME:+alternative}`, as the builder expands them; the names go into `used`. */
function substitute(word: string, vars: Map<string, string>, used: string[]): string {
  return word.replace(/\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g, (_m, braced?: string, op?: string, operand?: string, bare?: string) => {
    const name = (braced ?? bare)!;
    used.push(name);
    const value = vars.get(name) ?? '';
    if (op === '-') return value || (operand ?? '');
    if (op === '+') return value ? (operand ?? '') : '';
    return value;
  });
}

/** The registry a reference is pulled from: its first path part when that names a host, else Docker Hub. */
export function registryHost(ref: string): string {
  const slash = ref.indexOf('/');
  const first = slash === -1 ? '' : ref.slice(0, slash);
  if (!first || !(first.includes('.') || first.includes(':') || first === 'localhost')) return DEFAULT_REGISTRY;
  return first === 'docker.io' || first === 'index.docker.io' ? DEFAULT_REGISTRY : first;
}

export type ProbeAnswer = {reachable: true} | {reachable: false; reason: string};
/** Whether a registry can be reached from here; never waits longer than `timeoutMs`. */
export type RegistryProbe = (host: string, timeoutMs: number) => Promise<ProbeAnswer>;

/**
 * The default probe: an HTTPS request to `https://<host>/v2/` (any HTTP answer, even 401, or a TLS
 * failure means something answered there), or, when `HTTPS_PROXY` is set, a TCP connection to
 * the proxy. It runs on lem's machine: an engine on another machine may see other networks.
 */
export const probeRegistry: RegistryProbe = (host, timeoutMs) => {
  const proxy = process.env.HTTPS_PROXY ?? process.env.https_proxy;
  const target = proxy ? `the proxy ${proxy}` : host;
  return new Promise((resolve) => {
    let settled = false;
    const done = (reason?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      connection.destroy();
      resolve(reason === undefined ? {reachable: true} : {reachable: false, reason});
    };
    const timer = setTimeout(() => done(`no answer from ${target} in ${timeoutMs} ms`), timeoutMs);
    const connection = proxy ? connectTo(new URL(proxy), () => done()) : getV2(host, () => done());
    connection.on('error', (e: NodeJS.ErrnoException) => done(proxy || isNetworkError(e) ? `${target}: ${e.code ?? e.message}` : undefined));
  });
};

function connectTo(url: URL, onConnect: () => void) {
  return connect({host: url.hostname, port: Number(url.port || (url.protocol === 'https:' ? 443 : 80))}, onConnect);
}

function getV2(host: string, onAnswer: () => void) {
  const [name, port] = host.split(':');
  const req = httpsRequest({host: name, port: Number(port ?? 443), path: '/v2/', method: 'GET'}, (res) => {
    res.resume();
    onAnswer();
  });
  req.end();
  return req;
}

/** Errors that mean nothing answered (as opposed to a TLS or protocol error from something that did). */
function isNetworkError(e: NodeJS.ErrnoException): boolean {
  return ['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ETIMEDOUT', 'ENETUNREACH', 'EHOSTUNREACH', 'ECONNRESET', 'EPIPE'].includes(e.code ?? '');
}

/**
 * Ensures a build will not wait on a pull that cannot happen: every base is on the engine, or its
 * registry answers within {@link REGISTRY_PROBE_TIMEOUT_MS}. Otherwise E_IMAGE_BASE_UNAVAILABLE
 * naming the base, the reason and what to do. Each registry is probed once.
 */
export async function ensureBases(engine: DockerEngine, bases: BaseImage[], backendId: string, probe: RegistryProbe = probeRegistry): Promise<void> {
  const answers = new Map<string, Promise<ProbeAnswer>>();
  for (const base of bases) {
    if ((await inspectImage(engine, base.ref)) !== null) continue;
    const host = registryHost(base.ref);
    if (!answers.has(host)) answers.set(host, probe(host, REGISTRY_PROBE_TIMEOUT_MS));
    const answer = await answers.get(host)!;
    if (answer.reachable) continue;
    throw configError(
      'E_IMAGE_BASE_UNAVAILABLE',
      `the base image ${base.ref} is not here (the Docker engine at ${engine.host}) and the registry ${host} cannot be reached (${answer.reason})`,
      [
        `docker pull ${base.ref} where a registry is reachable, then docker save/docker load it here`,
        ...(base.args.length > 0 ? [`lem images build ${backendId} --build-arg ${base.args[0]}=<a local image>   # one that \`docker images\` lists`] : []),
      ],
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Build

export interface BuildOptions {
  /** Build arguments over the backend's own (`image.buildArgs`). */
  buildArgs?: Record<string, string>;
  /** Each progress line as the engine sends it (build output, pull status, errors). */
  onProgress?: (line: string) => void;
  /** How a registry is checked when a base is missing (tests inject one). */
  probe?: RegistryProbe;
}

/** The new image's status (present, not stale), with what the build was given. */
export interface BuildResult extends ImageStatus {
  /** The built image's id (`sha256:…`). */
  id: string;
  labels: Record<string, string>;
  buildArgs: Record<string, string>;
  /** The base images it was built on, as resolved. */
  bases: string[];
  /** Each base as the engine has it after the build: its id and, when it came from a registry, its digest (the tag pinned, the digest recorded). */
  baseImages: Array<{ref: string; id: string | null; digest: string | null}>;
  durationMs: number;
}

/** How many of the last progress lines a failed build's error carries. */
const ERROR_TAIL_LINES = 20;

/**
 * Builds `backend`'s image from its Dockerfile, its folder as the context, tagged with its ref
 * and labelled with the plugin version and the context hash. Fails fast (E_IMAGE_BASE_UNAVAILABLE)
 * when a base would need an unreachable registry; a failed build is E_IMAGE_BUILD with the
 * last lines of its output (E_IMAGE_BUILD).
 */
export async function buildImage(engine: DockerEngine, backend: RegisteredBackend, options: BuildOptions = {}): Promise<BuildResult> {
  const started = performance.now();
  const image = requireImage(backend);
  const context = readBuildContext(image.dockerfile);
  const buildArgs = {...image.buildArgs, ...options.buildArgs};
  const bases = dockerfileBases(readFileSync(image.dockerfile, 'utf8'), buildArgs);
  await ensureBases(engine, bases, backend.contribution.id, options.probe);
  const labels = {[Labels.pluginVersion]: backend.plugin.version, [Labels.dockerfileHash]: context.hash, [Labels.backend]: backend.contribution.id};
  let stream: Readable;
  try {
    // dockerode packs `{context, src}` into a tar itself (tar-fs), honouring a .dockerignore there.
    stream = (await engine.docker.buildImage({context: context.dir, src: context.files}, {t: image.ref, dockerfile: context.dockerfile, buildargs: buildArgs, labels, rm: true, forcerm: true})) as unknown as Readable;
  } catch (error) {
    if ((error as {statusCode?: number}).statusCode === undefined) throw unreachable(engine, error);
    throw buildFailed(backend.contribution.id, image.ref, engineMessage(error), []);
  }
  const outcome = await followBuild(stream, options.onProgress, engine.docker.modem);
  if (outcome.error) throw buildFailed(backend.contribution.id, image.ref, outcome.error, outcome.tail);
  const status = await imageStatus(engine, backend);
  if (!status.present || status.id === null) throw buildFailed(backend.contribution.id, image.ref, 'the engine reported success but has no such image', outcome.tail);
  const baseImages = await Promise.all(
    bases.map(async (b) => {
      const info = await inspectImage(engine, b.ref);
      return {ref: b.ref, id: info?.Id ?? null, digest: info?.RepoDigests?.[0] ?? null};
    }),
  );
  return {...status, id: status.id, labels, buildArgs, bases: bases.map((b) => b.ref), baseImages, durationMs: Math.round(performance.now() - started)};
}

function buildFailed(backendId: string, ref: string, message: string, tail: string[]): CodedError {
  return codedError({
    code: 'E_IMAGE_BUILD',
    message: `building ${ref} failed: ${message}`,
    try: ['fix the cause the last lines of the build show (above)', `lem images build ${backendId}   # again, once fixed`],
    details: tail.map((line) => ({message: line})),
    exitCode: ExitCode.runsFailed,
  });
}

/** One message of the engine's build stream (newline-delimited JSON). */
interface BuildMessage {
  stream?: string;
  status?: string;
  id?: string;
  error?: string;
  errorDetail?: {message?: string};
}

/** The part of docker-modem that reads a build stream (`engine.docker.modem`). */
export interface ProgressFollower {
  followProgress(stream: NodeJS.ReadableStream, onFinished: (error: Error | null, output: unknown[]) => void, onProgress?: (event: unknown) => void): void;
}

/**
 * Reads a build stream to its end with `modem.followProgress`: each `stream` line (trimmed), each
 * `status` (pull progress: one line per change) and each `error` goes to `onProgress`; the last
 * lines are kept for the error. Resolves with the first error the engine reported, if any.
 */
export function followBuild(stream: Readable, onProgress: (line: string) => void = () => {}, modem: ProgressFollower): Promise<{error: string | null; tail: string[]}> {
  const tail: string[] = [];
  let error: string | null = null;
  let lastStatus = '';
  const emit = (line: string) => {
    tail.push(line);
    if (tail.length > ERROR_TAIL_LINES) tail.shift();
    onProgress(line);
  };
  const handle = (message: BuildMessage) => {
    for (const line of (message.stream ?? '').split('\n')) if (line.trim()) emit(line.trim());
    if (message.status) {
      const line = message.id ? `${message.id}: ${message.status}` : message.status;
      if (line !== lastStatus) emit((lastStatus = line));
    }
    const failure = message.errorDetail?.message ?? message.error;
    if (failure) {
      error ??= failure.trim();
      emit(`error: ${failure.trim()}`);
    }
  };
  return new Promise((resolve, reject) => {
    try {
      modem.followProgress(
        stream,
        (streamError) => {
          if (streamError && error === null) error = streamError.message;
          resolve({error, tail});
        },
        (event) => handle((event ?? {}) as BuildMessage),
      );
    } catch (thrown) {
      // followProgress parses each line as JSON and throws on one that is not.
      reject(thrown instanceof Error ? thrown : new Error(String(thrown)));
    }
  });
}
