import {diagnose, dockerEngine, type Diagnosis, type Registry} from '@lem/core';
import {dim, table} from './render.js';

/** This machine as a run would read it: NVML and the powercap tree from lem's variables, the project's Docker host. */
export function diagnoseHere(registry: Registry, dockerHost: string | undefined): Promise<Diagnosis> {
  return diagnose({registry, engine: dockerEngine(dockerHost), nvml: {libraryPath: process.env.LEM_NVML_LIBRARY}, powercapRoot: process.env.LEM_POWERCAP_ROOT});
}

/** What `lem doctor` prints and `lem init` shows first: the machine, each check, each fix. */
export function diagnosisLines(diagnosis: Diagnosis): string[] {
  const m = diagnosis.machine;
  return [
    dim(`${m.os}; ${m.cpuModel}, ${m.cores} cores; ${m.memoryGiB} GiB`),
    table(['CHECK', 'VERDICT', 'DETAIL'], diagnosis.checks.map((c) => [c.title, c.verdict, c.detail])),
    ...diagnosis.checks.flatMap((c) => (c.verdict === 'ok' ? [] : c.try.map((t) => `Try (${c.title}): ${t}`))),
  ];
}
