import {resolveProject, type Diagnosis} from '@lem/core';
import {LemCommand} from '../base-command.js';
import {diagnoseHere, diagnosisLines} from '../diagnosis-render.js';

export default class Doctor extends LemCommand<typeof Doctor> {
  static override summary = 'Check what this machine offers lem: GPUs, CPU energy counters, Docker, plugins, images; each with a verdict and a fix.';
  static override description =
    'Verdicts are ok, warning (lem runs, with less: e.g. CPU energy estimated, no GPU) or problem. Exits 1 when nothing can run an experiment here. NVML and the powercap tree are read as a run would ($LEM_NVML_LIBRARY, $LEM_POWERCAP_ROOT).';
  static override examples = ['<%= config.bin %> doctor', '<%= config.bin %> doctor --json'];

  public async run(): Promise<Diagnosis> {
    const registry = await this.registry();
    const {settings} = await resolveProject({registry, projectFile: this.projectFile(this.project())});
    const diagnosis = await diagnoseHere(registry, settings.docker.host);
    for (const line of diagnosisLines(diagnosis)) this.say(line);
    return this.finish(diagnosis, diagnosis.canRun ? 0 : 1);
  }
}
