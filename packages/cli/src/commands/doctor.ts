import {diagnose, dockerEngine, resolveProject, type Diagnosis} from '@lem/core';
import {LemCommand} from '../base-command.js';
import {dim, table} from '../render.js';

export default class Doctor extends LemCommand<typeof Doctor> {
  static override summary = 'Check what this machine offers lem: GPUs, CPU energy counters, Docker, plugins, images; each with a verdict and a fix.';
  static override description =
    'Verdicts are ok, warning (lem runs, with less: e.g. CPU energy estimated, no GPU) or problem. Exits 1 when nothing can run an experiment here. NVML and the powercap tree are read as a run would ($LEM_NVML_LIBRARY, $LEM_POWERCAP_ROOT).';
  static override examples = ['<%= config.bin %> doctor', '<%= config.bin %> doctor --json'];

  public async run(): Promise<Diagnosis> {
    const registry = await this.registry();
    const {settings} = await resolveProject({registry, projectFile: this.projectFile(this.project())});
    const diagnosis = await diagnose({
      registry,
      engine: dockerEngine(settings.docker.host),
      nvml: {libraryPath: process.env.LEM_NVML_LIBRARY},
      powercapRoot: process.env.LEM_POWERCAP_ROOT,
    });
    const m = diagnosis.machine;
    this.say(dim(`${m.os}; ${m.cpuModel}, ${m.cores} cores; ${m.memoryGiB} GiB`));
    this.say(table(['CHECK', 'VERDICT', 'DETAIL'], diagnosis.checks.map((c) => [c.title, c.verdict, c.detail])));
    for (const c of diagnosis.checks) for (const t of c.verdict === 'ok' ? [] : c.try) this.say(`Try (${c.title}): ${t}`);
    return this.finish(diagnosis, diagnosis.canRun ? 0 : 1);
  }
}
