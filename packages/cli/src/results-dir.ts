import {isAbsolute, join} from 'node:path';
import {dockerEngine, resolveProject, type DockerEngine, type LoadedFile, type ProjectRoot, type Registry} from '@lem/core';

/** The results folder of the project: `results_dir` of `.lem-config.yaml` (or the default) under the project root. */
export async function resultsDirOf(project: ProjectRoot, registry: Registry, projectFile: LoadedFile | undefined): Promise<string> {
  const {settings} = await resolveProject({registry, projectFile});
  return isAbsolute(settings.results_dir) ? settings.results_dir : join(project.root, settings.results_dir);
}

/** The project's Docker engine: `docker.host` of `.lem-config.yaml`, else $DOCKER_HOST, else the local socket. */
export async function engineOf(registry: Registry, projectFile: LoadedFile | undefined): Promise<DockerEngine> {
  const {settings} = await resolveProject({registry, projectFile});
  return dockerEngine(settings.docker.host);
}
