/**
 * What this machine offers lem, each item with a verdict and a fix: the machine itself, the GPUs
 * (NVML), the CPU energy counters (RAPL), Docker and its NVIDIA runtime, the installed plugins and
 * the backends' images. `lem doctor` prints it; `lem init` shows it before asking anything. Never
 * throws: what cannot be probed is a verdict too.
 */
import {cpus, release, totalmem, type as osType} from 'node:os';
import {probeNvml, type NvmlOptions, type NvmlProbe} from '../meters/nvml.js';
import {probeRapl, type RaplProbe} from '../meters/rapl.js';
import type {Registry} from '../registry.js';
import {pingEngine, type DockerEngine} from '../runner/docker/engine.js';
import {imageStatus} from '../runner/docker/images.js';

export type Verdict = 'ok' | 'warning' | 'problem';

export interface Check {
  id: 'node' | 'gpus' | 'cpu-energy' | 'docker' | 'plugins' | 'images' | 'run';
  title: string;
  verdict: Verdict;
  detail: string;
  try: string[];
}

export interface Diagnosis {
  machine: {os: string; cpuModel: string; cores: number; memoryGiB: number};
  checks: Check[];
  /** Whether an experiment can run here at all (the embedded backend on the CPU counts). */
  canRun: boolean;
}

export interface DiagnoseInput {
  registry: Registry;
  /** The Docker engine lem would use (the project's `docker.host`). */
  engine: DockerEngine;
  nvml?: NvmlOptions;
  /** The powercap root (default /sys/class/powercap, or $LEM_POWERCAP_ROOT). */
  powercapRoot?: string;
  dockerTimeoutMs?: number;
}

const check = (id: Check['id'], title: string, verdict: Verdict, detail: string, tries: string[] = []): Check => ({id, title, verdict, detail, try: tries});

/** lem's floor, as its packages' `engines` say: npm 11, which installs plugins, needs 20.17. */
const NODE_FLOOR = [20, 17] as const;

export function nodeCheck(version: string = process.versions.node): Check {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const ok = major > NODE_FLOOR[0] || (major === NODE_FLOOR[0] && minor >= NODE_FLOOR[1]);
  return ok ? check('node', 'Node.js', 'ok', `Node ${version}`) : check('node', 'Node.js', 'problem', `Node ${version}; lem needs Node ${NODE_FLOOR.join('.')} or newer`, ['install Node 22 LTS, or Node 20.17 or newer (https://nodejs.org)']);
}

function gpuCheck(probe: NvmlProbe): Check {
  if (!probe.available) return check('gpus', 'GPUs (NVML)', 'warning', `${probe.reason}: GPU backends cannot run and GPU energy is not measured`, ['install the NVIDIA driver on a GPU machine; CPU experiments need none']);
  const devices = probe.devices.map((d) => `GPU ${d.index} ${d.name}${d.powerLimitW === null ? '' : `, power limit ${d.powerLimitW} W`}${d.energyCounter ? '' : ', power only (no energy counter)'}`);
  return check('gpus', 'GPUs (NVML)', 'ok', `driver ${probe.driverVersion}: ${devices.join('; ') || 'no device'}`);
}

function raplCheck(probe: RaplProbe): Check {
  if (probe.available) return check('cpu-energy', 'CPU energy (RAPL)', 'ok', `${probe.zones.length} zone${probe.zones.length === 1 ? '' : 's'} readable under ${probe.root}`);
  return check('cpu-energy', 'CPU energy (RAPL)', 'warning', `${probe.reason.replace(/\.$/, '')}: CPU energy is estimated from CPU time, and labelled so`, probe.try);
}

async function dockerCheck(engine: DockerEngine, timeoutMs: number): Promise<{check: Check; up: boolean}> {
  try {
    await pingEngine(engine, timeoutMs);
    const info = (await engine.docker.info()) as {ServerVersion?: string; Runtimes?: Record<string, unknown>};
    const nvidia = Object.keys(info.Runtimes ?? {}).includes('nvidia');
    const detail = `Docker ${info.ServerVersion ?? '?'} at ${engine.host}; NVIDIA runtime ${nvidia ? 'present' : 'absent'}`;
    return {check: check('docker', 'Docker', 'ok', detail, nvidia ? [] : ['GPU containers need the NVIDIA container toolkit (nvidia-ctk runtime configure --runtime=docker) where there are GPUs']), up: true};
  } catch (error) {
    const message = (error as Error).message.split('\n')[0];
    return {check: check('docker', 'Docker', 'warning', `no Docker engine at ${engine.host}: ${message}; only the local runner can run`, ['install Docker, or set docker.host in .lem-config.yaml', 'runner: local   # llama.cpp runs as a host process']), up: false};
  }
}

function pluginCheck(registry: Registry): Check {
  const backends = [...registry.backends.keys()].sort().join(', ') || 'none';
  const notifiers = [...registry.notifiers.keys()].sort().join(', ') || 'none';
  const detail = `backends: ${backends}; notifiers: ${notifiers}`;
  if (registry.problems.length === 0) return check('plugins', 'Plugins', 'ok', detail);
  return check('plugins', 'Plugins', 'warning', `${detail}; ${registry.problems.map((p) => p.message).join('; ')}`, ['lem backends   # names each broken plugin']);
}

async function imagesCheck(registry: Registry, engine: DockerEngine, up: boolean): Promise<Check> {
  const withImage = [...registry.backends.values()].filter((b) => b.contribution.image).sort((a, b) => a.contribution.id.localeCompare(b.contribution.id));
  if (!up) return check('images', 'Backend images', 'warning', 'not checked: no Docker engine');
  const statuses = await Promise.all(withImage.map((b) => imageStatus(engine, b).catch(() => null)));
  const parts = withImage.map((b, i) => `${b.contribution.id} ${statuses[i]?.present ? (statuses[i]!.stale ? 'stale' : 'present') : 'missing'}`);
  const missing = withImage.filter((_, i) => !statuses[i]?.present || statuses[i]!.stale).map((b) => b.contribution.id);
  if (missing.length === 0) return check('images', 'Backend images', 'ok', parts.join(', '));
  return check('images', 'Backend images', 'warning', parts.join(', '), [`lem images build ${missing.join(' ')}`]);
}

/** The verdict on running anything: the embedded llama.cpp backend needs no GPU and no Docker. */
function runCheck(registry: Registry, node: Check): Check {
  if (node.verdict === 'problem') return check('run', 'Experiments', 'problem', 'nothing can run: Node is too old', node.try);
  if (registry.backends.has('llamacpp')) return check('run', 'Experiments', 'ok', 'the embedded llama.cpp backend runs here on the CPU (lem llamacpp tiny-model models/tiny.gguf for a test model)');
  return check('run', 'Experiments', 'warning', 'no embedded backend: experiments need a GPU backend or an OpenAI-compatible endpoint (backend: openai)', ['lem plugins install @lem/backend-llamacpp']);
}

export async function diagnose(input: DiagnoseInput): Promise<Diagnosis> {
  const cpuList = cpus();
  const machine = {os: `${osType()} ${release()}`, cpuModel: cpuList[0]?.model.trim() ?? 'unknown', cores: cpuList.length, memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10};
  const node = nodeCheck();
  const docker = await dockerCheck(input.engine, input.dockerTimeoutMs ?? 3000);
  const checks = [
    node,
    gpuCheck(probeNvml(input.nvml)),
    raplCheck(probeRapl(input.powercapRoot)),
    docker.check,
    pluginCheck(input.registry),
    await imagesCheck(input.registry, input.engine, docker.up),
  ];
  const run = runCheck(input.registry, node);
  return {machine, checks: [...checks, run], canRun: run.verdict !== 'problem'};
}
