import {describe, expect, it} from 'vitest';
import {isGgufFile, placeModel, readReportedSettings, sectionJsonSchema, servedModelRef} from './index.js';

describe('placeModel', () => {
  it('passes a hub id as is', () => {
    expect(placeModel('meta-llama/Llama-3.1-8B-Instruct', '/models')).toEqual({arg: 'meta-llama/Llama-3.1-8B-Instruct'});
  });

  it('mounts a host folder read-only under the container folder, by its name', () => {
    expect(placeModel('/data/ckpt/llama-fp8/', '/models')).toEqual({arg: '/models/llama-fp8', mount: {hostPath: '/data/ckpt/llama-fp8', containerPath: '/models/llama-fp8', readOnly: true}});
  });

  it('mounts a single file through its folder when the engine reads single files', () => {
    const gguf = (p: string) => p.endsWith('.gguf');
    expect(placeModel('/data/q/model.Q4.gguf', '/models', gguf)).toEqual({arg: '/models/q/model.Q4.gguf', mount: {hostPath: '/data/q', containerPath: '/models/q', readOnly: true}});
    expect(placeModel('/data/q/model.Q4.gguf', '/models').arg).toBe('/models/model.Q4.gguf');
  });
});

describe('isGgufFile', () => {
  it('tells a .gguf file by its name, whatever the case, from folders and hub ids', () => {
    expect(['/m/a.gguf', 'q4.GGUF', 'org/name', '/m/folder', 'x.gguf.part'].map(isGgufFile)).toEqual([true, true, false, false, false]);
  });
});

describe('servedModelRef', () => {
  it("takes the section's model_path when it is a hub id or absolute, else lem's resolved model", () => {
    expect(servedModelRef(undefined, {model: '/abs/m'})).toBe('/abs/m');
    expect(servedModelRef('org/name', {model: '/abs/m'})).toBe('org/name');
    expect(servedModelRef('/abs/other', {model: '/abs/m'})).toBe('/abs/other');
    expect(servedModelRef('./rel', {model: '/abs/rel'})).toBe('/abs/rel');
  });
});

describe('readReportedSettings', () => {
  it('reads the first group of every match, numbers as numbers, the last match of a name winning', () => {
    const settings = [
      {name: 'seqs', pattern: String.raw`max_num_seqs=(\d+)`},
      {name: 'seqs', pattern: String.raw`Defaulting max_num_seqs to (\d+)`},
      {name: 'mode', pattern: String.raw`mode=([A-Z_]+)`},
      {name: 'gib', pattern: String.raw`([\d.]+) GiB`},
    ];
    expect(readReportedSettings(settings, ['max_num_seqs=256', 'Defaulting max_num_seqs to 1024 mode=FULL', 'KV 10.5 GiB', 'unrelated'])).toEqual({seqs: 1024, mode: 'FULL', gib: 10.5});
    expect(readReportedSettings(undefined, ['x'])).toEqual({});
  });
});

describe('sectionJsonSchema', () => {
  it('drops the exported document\'s $schema and keeps the rest', () => {
    expect(sectionJsonSchema({$schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', properties: {a: {type: 'string'}}})).toEqual({type: 'object', properties: {a: {type: 'string'}}});
  });
});
