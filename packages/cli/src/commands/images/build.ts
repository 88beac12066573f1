import {Args} from '@oclif/core';
import {buildImage, codedError, configError, ErrorCodes, isCodedError, pingEngine, requireImage, type BuildResult, type CodedError, type RegisteredBackend, type Registry} from '@lem/core';
import {LemCommand} from '../../base-command.js';
import {buildArgFlag, builtLine, parseBuildArgs} from '../../image-build.js';
import {dim} from '../../render.js';
import {engineOf} from '../../results-dir.js';

export default class ImagesBuild extends LemCommand<typeof ImagesBuild> {
  static override summary = "Build backends' container images from their plugins' Dockerfiles (default: every installed backend that has one).";
  static override description =
    "Each image is built from its plugin's Dockerfile, with that folder as the context, tagged with the backend's image reference and labelled with the plugin version and the Dockerfile's hash. A base image that is not on the engine and whose registry cannot be reached fails the build at once (E_IMAGE_BASE_UNAVAILABLE).";
  static override examples = [
    '<%= config.bin %> images build',
    '<%= config.bin %> images build llamacpp',
    '<%= config.bin %> images build llamacpp --build-arg BASE=lem-test/base:latest --build-arg LEM_SOURCE=mounted --json',
  ];
  static override strict = false;
  static override args = {backend: Args.string({description: 'Backend ids to build, one or more (default: every backend with an image).'})};
  static override flags = {
    'build-arg': buildArgFlag,
  };

  public async run(): Promise<{engine: string; built: BuildResult[]}> {
    const {argv} = await this.parse(ImagesBuild);
    const registry = await this.registry();
    const backends = selectBackends(registry, argv as string[]);
    const buildArgs = parseBuildArgs(this.flags['build-arg'] ?? []);
    const engine = await engineOf(registry, this.projectFile(this.project()));
    await pingEngine(engine);
    const built: BuildResult[] = [];
    // With several images, one that cannot be built (its base not pullable here) does not stop the others.
    const failed: Array<{backend: string; error: CodedError}> = [];
    for (const backend of backends) {
      this.say(`Building ${backend.contribution.image!.ref} (${backend.contribution.id}) on ${engine.host}`);
      try {
        const result = await buildImage(engine, backend, {buildArgs, onProgress: (line) => this.say(dim(`  ${line}`))});
        this.say(builtLine(result));
        built.push(result);
      } catch (error) {
        if (backends.length === 1 || !isCodedError(error)) throw error;
        this.say(`Not built: ${backend.contribution.id}: ${error.code}: ${error.message}`);
        failed.push({backend: backend.contribution.id, error});
      }
    }
    if (failed.length > 0) throw notAllBuilt(failed, backends.length, built);
    return {engine: engine.host, built};
  }
}

/** The images that were not built, each with its own error, after those that were. */
function notAllBuilt(failed: Array<{backend: string; error: CodedError}>, total: number, built: BuildResult[]): CodedError {
  return codedError({
    code: failed[0]!.error.code,
    message: `${failed.length} of ${total} images were not built (${failed.map((f) => f.backend).join(', ')})${built.length > 0 ? `; built: ${built.map((b) => b.ref).join(', ')}` : ''}`,
    try: [...new Set(failed.flatMap((f) => f.error.try))],
    details: failed.map((f) => ({path: f.backend, message: `${f.error.code}: ${f.error.message}`})),
    exitCode: Math.max(...failed.map((f) => f.error.exitCode)) as CodedError['exitCode'],
  });
}

/** The backends named (each must be registered and have an image), or every one with an image. */
function selectBackends(registry: Registry, ids: string[]): RegisteredBackend[] {
  const all = [...registry.backends.values()].sort((a, b) => a.contribution.id.localeCompare(b.contribution.id));
  const withImage = all.filter((b) => b.contribution.image).map((b) => b.contribution.id);
  if (ids.length === 0) {
    if (withImage.length === 0) throw configError('E_NO_IMAGE', 'no installed backend has a container image', ['lem backends   # what each backend supports']);
    return all.filter((b) => b.contribution.image);
  }
  const unknown = ids.filter((id) => !registry.backends.has(id));
  if (unknown.length > 0) {
    throw configError(ErrorCodes.backendNotFound, `unknown backend${unknown.length === 1 ? '' : 's'}: ${unknown.join(', ')} (backends with an image: ${withImage.join(', ') || 'none'})`, [
      `lem images build ${withImage[0] ?? '<backend>'}`,
      ...unknown.map((id) => `lem plugins install @lem/backend-${id}`),
    ]);
  }
  const chosen = [...new Set(ids)].map((id) => registry.backends.get(id)!);
  for (const backend of chosen) requireImage(backend);
  return chosen;
}

