import {join} from 'node:path';
import {absolutePaths} from './file.js';
import {afterEach, describe, expect, it} from 'vitest';
import {at, failure, project, set, settingOf, type Project} from './__fixtures__/planning.js';
import type {CampaignPlan} from './types.js';

let p: Project;
afterEach(() => p?.remove());

const names = (plan: CampaignPlan) => plan.configurations.map((c) => c.name);
const conf = (plan: CampaignPlan, name: string) => {
  const found = plan.configurations.find((c) => c.name === name);
  if (!found) throw new Error(`no configuration ${name} in ${names(plan).join(', ')}`);
  return found;
};

describe('precedence: CLI > sweep point > entry > base > campaign keys > .lem-config.yaml > default', () => {
  // Each key is given by every layer up to the one that should win, so that each step of the
  // order decides one of them. `.lem-config.yaml` holds backend sections and dataset, not workload.
  const files = {
    '.lem-config.yaml': 'dataset:\n  kind: builtin\n  n_prompts: 7\nllamacpp:\n  context_size: 101\n  threads: 101\n  batch_size: 101\n  parallel: 101\n  gpu_layers: 101\n',
    'base.yaml': 'model: m.gguf\nworkload:\n  max_output_tokens: 22\nllamacpp:\n  context_size: 202\n  threads: 202\n  batch_size: 202\n  parallel: 202\n',
    'entry.yaml': 'workload:\n  max_output_tokens: 33\n  temperature: 0.33\nllamacpp:\n  context_size: 303\n  threads: 303\n  batch_size: 303\n',
    'campaign.yaml':
      'name: prec\nbase: base.yaml\nexperiments:\n  - path: entry.yaml\nsweep:\n  llamacpp.context_size: [505]\n  llamacpp.threads: [505]\n  workload.max_output_tokens: [55]\n' +
      'workload:\n  max_output_tokens: 44\n  temperature: 0.44\n  concurrency: 4\nllamacpp:\n  context_size: 404\n  threads: 404\n  batch_size: 404\n  parallel: 404\n  gpu_layers: 404\n',
  };
  const where = (file: keyof typeof files, line: string, token: string) => at(file, files[file], line, token);

  it('takes each setting from the highest layer that gives it, and says where (file:line:col)', async () => {
    p = project(files);
    const {plan} = await p.plan('campaign.yaml', {cli: [set('llamacpp.context_size', 606)]});
    expect(plan.configurations).toHaveLength(1);
    const c = plan.configurations[0]!;
    expect(settingOf(c, 'llamacpp.context_size')).toEqual({key: 'llamacpp.context_size', value: 606, from: '--set llamacpp.context_size'});
    expect(settingOf(c, 'llamacpp.threads')).toMatchObject({value: 505, from: where('campaign.yaml', 'llamacpp.threads: [505]', '505')});
    expect(settingOf(c, 'llamacpp.batch_size')).toMatchObject({value: 303, from: where('entry.yaml', 'batch_size: 303', '303')});
    expect(settingOf(c, 'llamacpp.parallel')).toMatchObject({value: 202, from: where('base.yaml', 'parallel: 202', '202')});
    expect(settingOf(c, 'llamacpp.gpu_layers')).toMatchObject({value: 404, from: where('campaign.yaml', 'gpu_layers: 404', '404')});
    expect(settingOf(c, 'dataset.n_prompts')).toMatchObject({value: 7, from: where('.lem-config.yaml', 'n_prompts: 7', '7')});
    expect(settingOf(c, 'llamacpp.flash_attention')).toMatchObject({value: false, from: 'default'});
    // The experiment keys follow the same order.
    expect(settingOf(c, 'workload.max_output_tokens')).toMatchObject({value: 55, from: where('campaign.yaml', '[55]', '55')});
    expect(settingOf(c, 'workload.temperature')).toMatchObject({value: 0.33, from: where('entry.yaml', 'temperature: 0.33', '0.33')});
    expect(settingOf(c, 'workload.concurrency')).toMatchObject({value: 4, from: where('campaign.yaml', 'concurrency: 4', '4')});
    expect(settingOf(c, 'workload.api')).toMatchObject({value: 'completions', from: 'default'});
  });

  it('without the flag the sweep point wins, without the sweep the entry, without the entry the base', async () => {
    p = project(files);
    const swept = (await p.plan('campaign.yaml')).plan.configurations[0]!;
    expect(settingOf(swept, 'llamacpp.context_size')).toMatchObject({value: 505, from: where('campaign.yaml', 'context_size: [505]', '505')});
    p.write('campaign.yaml', files['campaign.yaml'].replace(/sweep:\n( {2}.*\n)+?workload:/, 'workload:'));
    const plain = (await p.plan('campaign.yaml')).plan.configurations[0]!;
    expect(settingOf(plain, 'llamacpp.context_size')).toMatchObject({value: 303, from: where('entry.yaml', 'context_size: 303', '303')});
    expect(settingOf(plain, 'workload.max_output_tokens')).toMatchObject({value: 33, from: where('entry.yaml', 'max_output_tokens: 33', '33')});
    const baseOnly = files['campaign.yaml'].replace(/experiments:\n.*\nsweep:\n( {2}.*\n)+?workload:/, 'workload:');
    p.write('campaign.yaml', baseOnly);
    const base = (await p.plan('campaign.yaml')).plan.configurations[0]!;
    expect(settingOf(base, 'llamacpp.context_size')).toMatchObject({value: 202, from: where('base.yaml', 'context_size: 202', '202')});
    expect(settingOf(base, 'workload.temperature')).toMatchObject({value: 0.44, from: at('campaign.yaml', baseOnly, 'temperature: 0.44', '0.44')});
  });
});

describe('entries: inline and by path, merged over base, paths relative to the file that wrote them', () => {
  it('makes model, dataset.path and llamacpp.model_path absolute from their own file', async () => {
    p = project({
      '.lem-config.yaml': 'dataset:\n  kind: file\n  path: data/project.jsonl\n',
      'data/project.jsonl': '{"prompt": "from the project"}\n',
      'sub/base.yaml': 'dataset:\n  kind: file\n  path: prompts.jsonl\n',
      'sub/prompts.jsonl': '{"prompt": "from the base"}\n',
      'other/entry.yaml': 'name: quant\nllamacpp:\n  model_path: ../models/q8.gguf\n',
      'campaigns/c.yaml':
        'name: paths\nbase: ../sub/base.yaml\nmodel: ../models/a.gguf\nexperiments:\n  - path: ../other/entry.yaml\n  - {name: inline, model: ./inline.gguf}\n' +
        'sweep:\n  precision:\n    - {}\n    - {llamacpp.model_path: q4.gguf}\n',
    });
    const {plan} = await p.plan('campaigns/c.yaml');
    const model = (name: string) => settingOf(conf(plan, name), 'model').value;
    const modelPath = (name: string) => conf(plan, name).settings.find((s) => s.key === 'llamacpp.model_path')?.value;
    expect(names(plan)).toEqual(['quant-q8', 'quant-q4', 'inline', 'inline-q4']);
    expect(model('quant-q8')).toBe(join(p.root, 'models/a.gguf'));
    expect(modelPath('quant-q8')).toBe(join(p.root, 'models/q8.gguf'));
    expect(modelPath('quant-q4')).toBe(join(p.root, 'campaigns/q4.gguf'));
    expect(model('inline')).toBe(join(p.root, 'campaigns/inline.gguf'));
    expect(modelPath('inline')).toBeUndefined();
    expect(settingOf(conf(plan, 'inline'), 'dataset.path').value).toBe(join(p.root, 'sub/prompts.jsonl'));
    expect(plan.configurations.map((c) => c.entry)).toEqual(['../other/entry.yaml', '../other/entry.yaml', 'experiments[1]', 'experiments[1]']);
    // Without the base, the project's dataset path hangs from .lem-config.yaml's folder.
    p.write('campaigns/c.yaml', 'name: paths\nmodel: ../models/a.gguf\n');
    expect(settingOf((await p.plan('campaigns/c.yaml')).plan.configurations[0], 'dataset.path').value).toBe(join(p.root, 'data/project.jsonl'));
  });

  it('merges each entry over base and base over the campaign keys, key by key', async () => {
    const text = 'name: m\nbase: base.yaml\nmodel: m.gguf\nworkload:\n  api: chat\n  concurrency: 9\nexperiments:\n  - {name: one, workload: {max_output_tokens: 10}}\n  - {name: two}\n';
    p = project({'base.yaml': 'workload:\n  concurrency: 2\n  max_output_tokens: 20\n', 'c.yaml': text});
    const {plan} = await p.plan('c.yaml');
    expect(names(plan)).toEqual(['one', 'two']);
    const value = (name: string, key: string) => settingOf(conf(plan, name), key).value;
    expect([value('one', 'workload.api'), value('one', 'workload.concurrency'), value('one', 'workload.max_output_tokens')]).toEqual(['chat', 2, 10]);
    expect([value('two', 'workload.api'), value('two', 'workload.concurrency'), value('two', 'workload.max_output_tokens')]).toEqual(['chat', 2, 20]);
    expect(settingOf(conf(plan, 'one'), 'workload.max_output_tokens').from).toBe(at('c.yaml', text, 'max_output_tokens: 10', '10'));
    expect(settingOf(conf(plan, 'two'), 'workload.max_output_tokens').from).toBe('base.yaml:3:22');
  });
});

describe('the sweep', () => {
  it('crosses the axes in order, the first key varying slowest, named from what varies', async () => {
    p = project({'c.yaml': 'name: grid\nmodel: m.gguf\nsweep:\n  workload.concurrency: [1, 4]\n  llamacpp.parallel: [1, 4]\n'});
    const {plan} = await p.plan('c.yaml');
    expect(names(plan)).toEqual(['conc1-par1', 'conc1-par4', 'conc4-par1', 'conc4-par4']);
    expect(plan.configurations.map((c) => c.point)).toEqual([
      {'workload.concurrency': 1, 'llamacpp.parallel': 1},
      {'workload.concurrency': 1, 'llamacpp.parallel': 4},
      {'workload.concurrency': 4, 'llamacpp.parallel': 1},
      {'workload.concurrency': 4, 'llamacpp.parallel': 4},
    ]);
    expect(plan.varying).toEqual(['workload.concurrency', 'llamacpp.parallel']);
    expect(conf(plan, 'conc4-par1').varies).toEqual({'workload.concurrency': 4, 'llamacpp.parallel': 1});
    expect(new Set(plan.configurations.map((c) => c.settingsHash)).size).toBe(4);
  });

  it('unions a group of alternatives, then crosses it with the axes', async () => {
    p = project({'c.yaml': 'name: g\nmodel: m.gguf\nsweep:\n  workload.concurrency: [1, 4]\n  precision:\n    - {}\n    - {llamacpp.model_path: x.gguf, llamacpp.flash_attention: true}\n'});
    const {plan} = await p.plan('c.yaml');
    // What varies, in settings order: flash_attention (false in the baseline) before model_path.
    expect(names(plan)).toEqual(['conc1-no-fa', 'conc1-fa-x', 'conc4-no-fa', 'conc4-fa-x']);
    // The point as the file writes it; the setting with the path made absolute.
    expect(conf(plan, 'conc4-fa-x').point).toEqual({'workload.concurrency': 4, 'llamacpp.model_path': 'x.gguf', 'llamacpp.flash_attention': true});
    expect(settingOf(conf(plan, 'conc1-fa-x'), 'llamacpp.model_path')).toEqual({key: 'llamacpp.model_path', value: join(p.root, 'x.gguf'), from: 'c.yaml:7:29'});
    expect(conf(plan, 'conc1-no-fa').settings.some((s) => s.key === 'llamacpp.model_path')).toBe(false);
  });

  it('applies a backend section key to that backend only; the points it no longer tells apart are merged, with notes', async () => {
    const text = 'name: two\nmodel: m.gguf\nexperiments:\n  - {name: llama, backend: llamacpp}\n  - {name: hand, backend: handmade, handmade: {size: 2}}\nsweep:\n  llamacpp.parallel: [1, 4]\n';
    p = project({'c.yaml': text});
    const {plan, notes} = await p.plan('c.yaml');
    expect(names(plan)).toEqual(['llama-par1', 'llama-par4', 'hand']);
    const hand = conf(plan, 'hand');
    expect(hand.backend).toBe('handmade');
    expect(hand.settings.filter((s) => s.key.startsWith('llamacpp.'))).toEqual([]);
    expect(settingOf(hand, 'handmade.size')).toMatchObject({value: 2, from: at('c.yaml', text, 'size: 2', '2')});
    expect(hand.mergedFrom).toEqual(['experiments[1]: llamacpp.parallel=4']);
    expect(settingOf(conf(plan, 'llama-par4'), 'llamacpp.parallel')).toMatchObject({value: 4, from: at('c.yaml', text, '[1, 4]', '4')});
    expect(notes).toContain('1 grid point resolved to settings identical to another and was merged');
    expect(notes).toContain("llamacpp.parallel applies to another backend's section: left out for experiments[1] (backend handmade)");
    expect(plan.runs.filter((r) => r.configuration === 'hand')).toHaveLength(3);
  });

  it("names and tabulates a sweep over backends by what varies within each backend's section, not by every key another backend lacks", async () => {
    const text = 'name: engines\nmodel: m.gguf\nsweep:\n  backend: [llamacpp, handmade]\n  precision:\n    - {llamacpp.parallel: 1, handmade.size: 1}\n    - {llamacpp.parallel: 2, handmade.size: 2}\n';
    p = project({'c.yaml': text});
    const {plan, notes} = await p.plan('c.yaml');
    expect(names(plan)).toEqual(['llamacpp-par1', 'llamacpp-par2', 'handmade-size1', 'handmade-size2']);
    // The sweep sets the backend, so each section's keys go to its own backend by design: no note.
    expect(notes.filter((n) => n.includes("another backend's section"))).toEqual([]);
    expect(Object.keys(plan.configurations[0]!.varies)).toEqual(['backend', 'llamacpp.parallel', 'handmade.size']);
    expect(plan.configurations.map((c) => c.varies)).toEqual([
      {backend: 'llamacpp', 'llamacpp.parallel': 1, 'handmade.size': null},
      {backend: 'llamacpp', 'llamacpp.parallel': 2, 'handmade.size': null},
      {backend: 'handmade', 'llamacpp.parallel': null, 'handmade.size': 1},
      {backend: 'handmade', 'llamacpp.parallel': null, 'handmade.size': 2},
    ]);
  });

  it('merges identical resolved configurations, listing the others once', async () => {
    p = project({'c.yaml': 'name: same\nmodel: m.gguf\nsweep:\n  workload.concurrency: [2, 3]\n  precision:\n    - {}\n    - {llamacpp.parallel: 4}\n'});
    const {plan, notes} = await p.plan('c.yaml');
    // parallel 4 is the default: the second alternative changes nothing.
    expect(names(plan)).toEqual(['conc2', 'conc3']);
    expect(conf(plan, 'conc2').mergedFrom).toEqual(['workload.concurrency=2, llamacpp.parallel=4']);
    expect(conf(plan, 'conc3').mergedFrom).toEqual(['workload.concurrency=3, llamacpp.parallel=4']);
    expect(notes).toContain('2 grid points resolved to settings identical to another and were merged');
    expect(plan.runs).toHaveLength(6);
  });

  it('gives the same names, hashes and plan hash to two plans of the same file', async () => {
    p = project({'c.yaml': 'name: stable\nmodel: m.gguf\nseed: 5\norder: shuffled\nsweep:\n  workload.concurrency: [1, 2, 4]\n  workload.api: [completions, chat]\n'});
    const one = (await p.plan('c.yaml', {now: new Date('2025-01-01T00:00:00Z')})).plan;
    const two = (await p.plan('c.yaml', {now: new Date('2025-06-01T00:00:00Z')})).plan;
    // Parts follow the settings' order (workload.api before workload.concurrency), points the sweep's.
    expect(names(one)).toEqual(['completions-conc1', 'chat-conc1', 'completions-conc2', 'chat-conc2', 'completions-conc4', 'chat-conc4']);
    expect(names(two)).toEqual(names(one));
    expect(two.configurations.map((c) => c.settingsHash)).toEqual(one.configurations.map((c) => c.settingsHash));
    expect(two.runs).toEqual(one.runs);
    expect(two.hash).toBe(one.hash);
    expect(two.id).not.toBe(one.id);
  });

  it('makes names unique when what varies does not tell configurations apart', async () => {
    p = project({'c.yaml': 'name: u\nmodel: m.gguf\nsweep:\n  workload.temperature: [0.5, 0.7]\n  measure.meters: [[nvml], [rapl]]\n'});
    const {plan} = await p.plan('c.yaml');
    expect(new Set(names(plan)).size).toBe(4);
    expect(names(plan).every((n) => /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(n))).toBe(true);
  });
});

describe('invalid points and invalid experiments', () => {
  it('drops the grid points that do not resolve, with their reasons', async () => {
    p = project({'c.yaml': 'name: d\nmodel: m.gguf\nsweep:\n  workload.concurrency: [1, 0, 2]\n  measure.baseline_s: [1, -1]\n'});
    const {plan, notes} = await p.plan('c.yaml');
    // Among the points left, only the concurrency varies.
    expect(names(plan)).toEqual(['conc1', 'conc2']);
    expect(plan.dropped.map((d) => d.point)).toEqual([
      'workload.concurrency=1, measure.baseline_s=-1',
      'workload.concurrency=0, measure.baseline_s=1',
      'workload.concurrency=0, measure.baseline_s=-1',
      'workload.concurrency=2, measure.baseline_s=-1',
    ]);
    expect(plan.dropped[1]!.reasons).toEqual([expect.stringMatching(/^workload\.concurrency: .*0/)]);
    expect(plan.dropped[2]!.reasons).toHaveLength(2);
    expect(notes).toContain('4 grid points dropped as invalid (listed in the plan)');
  });

  it('drops an entry\'s invalid points and keeps its valid ones', async () => {
    p = project({'c.yaml': 'name: d\nmodel: m.gguf\nexperiments:\n  - {name: a}\n  - {name: h, backend: handmade, handmade: {size: 1}}\nsweep:\n  llamacpp.context_size: [8, 64]\n'});
    const {plan} = await p.plan('c.yaml');
    expect(names(plan)).toEqual(['a', 'h']);
    expect(settingOf(conf(plan, 'a'), 'llamacpp.context_size').value).toBe(64);
    expect(plan.dropped).toEqual([{point: 'experiments[0]: llamacpp.context_size=8', reasons: [expect.stringMatching(/^llamacpp\.context_size: /)]}]);
  });

  it('drops a point whose backend is not installed, with the error as its reason', async () => {
    p = project({'c.yaml': 'name: d\nmodel: m.gguf\nsweep:\n  backend: [llamacpp, nope]\n'});
    const {plan} = await p.plan('c.yaml');
    expect(names(plan)).toEqual(['d']);
    expect(plan.dropped).toEqual([{point: 'backend=nope', reasons: ['backend "nope" is not installed (installed: boxed, handmade, llamacpp)']}]);
  });

  it('stops with E_CONFIG_INVALID when no point is valid', async () => {
    p = project({'c.yaml': 'name: d\nmodel: m.gguf\nsweep:\n  workload.concurrency: [0, -2]\n'});
    const e = await failure(p.plan('c.yaml'));
    expect(e.code).toBe('E_CONFIG_INVALID');
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(/no grid point resolves to a valid experiment \(2 dropped\)/);
    expect(e.details?.map((d) => d.path)).toEqual(['workload.concurrency=0', 'workload.concurrency=-2']);
    // Each at the sweep value that made it invalid.
    expect(e.details?.map((d) => d.location)).toEqual([{file: 'c.yaml', line: 4, col: 26}, {file: 'c.yaml', line: 4, col: 29}]);
    expect(e.details?.[0]?.message).toMatch(/^workload\.concurrency: /);
  });

  it('refuses an entry none of whose points is valid, instead of dropping it whole', async () => {
    p = project({'c.yaml': 'name: x\nexperiments:\n  - {name: a, model: m.gguf}\n  - {name: b}\nsweep:\n  workload.concurrency: [1, 2]\n'});
    const e = await failure(p.plan('c.yaml'));
    expect(e.code).toBe('E_CONFIG_INVALID');
    expect(e.message).toBe('c.yaml (experiments[1]): no grid point resolves to a valid experiment (2 dropped)');
    expect(e.details).toEqual([
      {path: 'experiments[1]: workload.concurrency=1', message: 'model: missing required key "model"', location: {file: 'c.yaml', line: 4, col: 5}},
      {path: 'experiments[1]: workload.concurrency=2', message: 'model: missing required key "model"', location: {file: 'c.yaml', line: 4, col: 5}},
    ]);
  });

  it('refuses an unknown key in an entry file at its file:line:col, before anything else', async () => {
    p = project({'e.yaml': 'workload:\n  concurency: 2\n', 'c.yaml': 'name: x\nmodel: m.gguf\nexperiments:\n  - path: e.yaml\n  - {name: ok}\n'});
    const e = await failure(p.plan('c.yaml'));
    expect(e.code).toBe('E_CONFIG_INVALID');
    expect(e.details).toEqual([{path: 'workload.concurency', message: 'unknown key "concurency" (did you mean "concurrency"?)', location: {file: 'e.yaml', line: 2, col: 3}}]);
  });

  it('refuses an unknown key in an inline entry at its place in the campaign file', async () => {
    p = project({'c.yaml': 'name: x\nmodel: m.gguf\nexperiments:\n  - name: ok\n  - name: bad\n    measure: {baseline: 3}\n'});
    const e = await failure(p.plan('c.yaml'));
    expect(e.details).toEqual([{path: 'measure.baseline', message: 'unknown key "baseline" (did you mean "baseline_s"?)', location: {file: 'c.yaml', line: 6, col: 15}}]);
  });

  it('refuses an entry that is not a valid experiment with the other layers, instead of dropping it', async () => {
    p = project({'c.yaml': 'name: x\nexperiments:\n  - {name: a, model: m.gguf}\n  - {name: b, workload: {concurrency: 2}}\n'});
    const e = await failure(p.plan('c.yaml'));
    expect(e.code).toBe('E_CONFIG_INVALID');
    expect(e.message).toBe('c.yaml (experiments[1]) has an error');
    expect(e.details).toEqual([expect.objectContaining({path: 'model', message: 'missing required key "model"', location: {file: 'c.yaml', line: 4, col: 5}})]);
  });

  const campaignOnly = {
    cycles: 'cycles: 3',
    order: 'order: grouped',
    seed: 'seed: 4',
    gaps: 'gaps: {between_experiments_s: 1}',
    retry: 'retry: {max_attempts: 2}',
    failure_threshold: 'failure_threshold: {ratio: 0.2}',
    run_timeout_s: 'run_timeout_s: 10',
    executor: 'executor: local',
    slurm: 'slurm: {partition: gpu}',
  };
  const onlyText = `model: m.gguf\n${Object.values(campaignOnly).join('\n')}\n`;

  it.each([
    ['a base file', {'b.yaml': onlyText, 'c.yaml': 'name: x\nbase: b.yaml\n'}, 'b.yaml', 2],
    ['an entry file', {'e.yaml': onlyText, 'c.yaml': 'name: x\nexperiments:\n  - path: e.yaml\n'}, 'e.yaml', 2],
  ])('refuses every campaign-only key in %s, each at its line', async (_what, files, file, firstLine) => {
    p = project(files);
    const e = await failure(p.plan('c.yaml'));
    expect(e.code).toBe('E_CONFIG_INVALID');
    expect(e.details?.map((d) => d.path)).toEqual(Object.keys(campaignOnly));
    expect(e.details?.map((d) => d.location)).toEqual(Object.keys(campaignOnly).map((_, i) => ({file, line: firstLine + i, col: 1})));
    expect(e.details?.find((d) => d.path === 'gaps')?.message).toMatch(/campaign file or \.lem-config\.yaml/);
  });

  it('refuses campaign-only keys in an inline entry, located in the campaign file', async () => {
    p = project({'c.yaml': 'name: x\nmodel: m.gguf\nexperiments:\n  - name: e\n    order: shuffled\n    run_timeout_s: 5\n'});
    const e = await failure(p.plan('c.yaml'));
    expect(e.details?.map((d) => [d.path, d.location])).toEqual([
      ['order', {file: 'c.yaml', line: 5, col: 5}],
      ['run_timeout_s', {file: 'c.yaml', line: 6, col: 5}],
    ]);
  });

  it.each([
    ['workloads.concurrency: [1]', 'sweep.workloads.concurrency', '"workloads" is not a setting (did you mean "workload"?)', 4, 3],
    ['workload.concurency: [1]', 'sweep.workload.concurency', 'unknown key "concurency" (did you mean "concurrency"?)', 4, 3],
    ['llamacpp.paralel: [1]', 'sweep.llamacpp.paralel', 'unknown key "paralel" (did you mean "parallel"?)', 4, 3],
    ['q:\n    - {}\n    - {llamcpp.model_path: x.gguf}', 'sweep.q[1].llamcpp.model_path', '"llamcpp" is not a setting (did you mean "llamacpp"?)', 6, 8],
  ])('refuses the unknown sweep key of `%s` at the key, with a suggestion', async (sweep, path, message, line, col) => {
    p = project({'c.yaml': `name: x\nmodel: m.gguf\nsweep:\n  ${sweep}\n`});
    const e = await failure(p.plan('c.yaml'));
    expect(e.code).toBe('E_CONFIG_INVALID');
    expect(e.details).toHaveLength(1);
    expect(e.details![0]).toMatchObject({path, location: {file: 'c.yaml', line, col}});
    expect(e.details![0]!.message).toContain(message);
  });

  it("says a dotted sweep key naming no setting is the section of a backend that is not installed, and how to install it", async () => {
    p = project({'c.yaml': 'name: x\nmodel: m.gguf\nsweep:\n  tensorrt.max_batch_size: [64, 256]\n  precision:\n    - {tensorrt.dtype: float16}\n'});
    const e = await failure(p.plan('c.yaml'));
    expect(e.details?.map((d) => [d.path, d.message])).toEqual([
      ['sweep.tensorrt.max_batch_size', '"tensorrt" is not a setting (if it is a backend\'s section, that backend is not installed: lem plugins install @lem/backend-tensorrt)'],
      ['sweep.precision[0].tensorrt.dtype', '"tensorrt" is not a setting (if it is a backend\'s section, that backend is not installed: lem plugins install @lem/backend-tensorrt)'],
    ]);
    expect(e.try?.[0]).toBe('lem plugins install @lem/backend-tensorrt');
  });

  it('routes runner: docker from the file or --runner, and records the container strategy (the CLI wins)', async () => {
    p = project({'c.yaml': 'name: x\nmodel: m.gguf\nrunner: docker\n', 'd.yaml': 'name: y\nmodel: m.gguf\n'});
    expect((await p.plan('c.yaml')).plan).toMatchObject({runner: 'docker', containerStrategy: 'ephemeral'});
    const cli = [{key: 'runner', value: 'docker', flag: '--runner'}, {key: 'docker.strategy', value: 'persistent', flag: '--container-strategy'}];
    expect((await p.plan('d.yaml', {cli})).plan).toMatchObject({runner: 'docker', containerStrategy: 'persistent'});
    expect((await p.plan('d.yaml')).plan).toMatchObject({runner: 'local', containerStrategy: null});
  });

  it('refuses --container-strategy where the runner is local', async () => {
    p = project({'d.yaml': 'name: y\nmodel: m.gguf\n'});
    const e = await failure(p.plan('d.yaml', {cli: [{key: 'docker.strategy', value: 'persistent', flag: '--container-strategy'}]}));
    expect(e.code).toBe('E_STRATEGY_NEEDS_DOCKER');
    expect(e.try.join('\n')).toContain('--runner docker');
  });

  it('runs a campaign of several backends in docker whatever .lem-config.yaml says, with the source "multi-backend campaign"', async () => {
    const campaign = 'name: mb\nmodel: m.gguf\nexperiments:\n  - {name: a, backend: llamacpp}\n  - {name: b, backend: handmade, handmade: {size: 1}}\n';
    p = project({'.lem-config.yaml': 'runner: local\n', 'c.yaml': campaign});
    const {plan} = await p.plan('c.yaml');
    expect(plan.runner).toBe('docker');
    for (const c of plan.configurations) expect(settingOf(c, 'runner')).toMatchObject({value: 'docker', from: 'multi-backend campaign'});
  });

  it('refuses runner: local asked for in a multi-backend campaign (file or --runner), naming where', async () => {
    const campaign = 'name: mb\nmodel: m.gguf\nexperiments:\n  - {name: a, backend: llamacpp}\n  - {name: b, backend: handmade, handmade: {size: 1}}\n';
    p = project({'c.yaml': `${campaign}runner: local\n`, 'd.yaml': campaign});
    const fromFile = await failure(p.plan('c.yaml'));
    expect(fromFile.code).toBe('E_RUNNER_CONFLICT');
    expect(fromFile.message).toMatch(/several backends \(llamacpp, handmade\).*c\.yaml:\d+/);
    const fromCli = await failure(p.plan('d.yaml', {cli: [{key: 'runner', value: 'local', flag: '--runner'}]}));
    expect(fromCli.code).toBe('E_RUNNER_CONFLICT');
    expect(fromCli.message).toContain('--runner');
  });

  it('does not count an endpoint (openai) as a second backend', async () => {
    p = project({'c.yaml': 'name: ep\nmodel: m.gguf\nexperiments:\n  - {name: a, backend: llamacpp}\n  - {name: b, backend: openai, model: served, base_url: "http://127.0.0.1:9/v1"}\n'});
    expect((await p.plan('c.yaml')).plan.runner).toBe('local');
  });

  it('refuses at plan time a backend that cannot run locally under the local runner', async () => {
    p = project({'c.yaml': 'name: bx\nmodel: m.gguf\nbackend: boxed\nboxed: {size: 1}\n'});
    const e = await failure(p.plan('c.yaml'));
    expect(e.code).toBe('E_RUNNER_UNSUPPORTED');
    expect(e.try).toContain('--runner docker   # or runner: docker in the campaign file');
    expect((await p.plan('c.yaml', {cli: [{key: 'runner', value: 'docker', flag: '--runner'}]})).plan.runner).toBe('docker');
  });

  it('refuses runs that disagree on runner or docker settings, naming them', async () => {
    p = project({'c.yaml': 'name: x\nmodel: m.gguf\nexperiments:\n  - {name: a}\n  - {name: b, docker: {strategy: persistent}}\n  - {name: c, runner: docker}\n'});
    const e = await failure(p.plan('c.yaml'));
    expect(e.code).toBe('E_CONFIG_INVALID');
    expect(e.message).toMatch(/runner and docker settings must be the same for every run/);
    expect(e.details?.map((d) => d.message.split(':')[0])).toEqual(['a', 'b', 'c']);
    expect(e.details?.[1]?.message).toContain('"strategy":"persistent"');
    expect(e.details?.[2]?.message).toContain('runner docker');
  });
});

describe('command-line settings and configurable gaps', () => {
  const files = {
    '.lem-config.yaml': 'gaps:\n  between_experiments_s: 7\n  between_cycles_s: 70\n',
    'c.yaml': 'name: cli\nmodel: m.gguf\ncycles: 3\nsweep:\n  workload.concurrency: [1, 4]\n',
  };

  it('applies --set of a campaign key to the campaign and any other --set to every run', async () => {
    p = project(files);
    const {plan} = await p.plan('c.yaml', {cli: [set('cycles', 2), set('workload.max_output_tokens', 9), set('gaps.between_cycles_s', 5)]});
    expect(plan.cycles).toEqual({kind: 'fixed', count: 2});
    expect(plan.campaignSettings.find((s) => s.key === 'cycles')).toEqual({key: 'cycles', value: 2, from: '--set cycles'});
    expect(plan.runs).toHaveLength(4);
    for (const c of plan.configurations) expect(settingOf(c, 'workload.max_output_tokens')).toMatchObject({value: 9, from: '--set workload.max_output_tokens'});
    expect(plan.gaps.betweenCyclesS).toBe(5);
    expect(plan.campaignSettings.find((s) => s.key === 'gaps.between_cycles_s')?.from).toBe('--set gaps.between_cycles_s');
    expect(plan.cli.map((s) => s.key)).toEqual(['cycles', 'workload.max_output_tokens', 'gaps.between_cycles_s']);
  });

  it('lets --set override a swept key, merging the points it makes identical', async () => {
    p = project(files);
    const {plan, notes} = await p.plan('c.yaml', {cli: [set('workload.concurrency', 2)]});
    expect(plan.configurations).toHaveLength(1);
    expect(settingOf(plan.configurations[0], 'workload.concurrency')).toMatchObject({value: 2, from: '--set workload.concurrency'});
    expect(notes).toContain('1 grid point resolved to settings identical to another and was merged');
  });

  it('takes gaps from .lem-config.yaml when the campaign has none, and from the campaign when it has', async () => {
    p = project(files);
    const {plan} = await p.plan('c.yaml');
    expect(plan.gaps).toMatchObject({betweenExperimentsS: 7, betweenCyclesS: 70});
    expect(plan.campaignSettings.find((s) => s.key === 'gaps.between_experiments_s')?.from).toBe(at('.lem-config.yaml', files['.lem-config.yaml'], 'between_experiments_s', '7'));
    p.write('c.yaml', `${files['c.yaml']}gaps:\n  between_cycles_s: 30\n`);
    const own = (await p.plan('c.yaml')).plan;
    expect(own.gaps).toMatchObject({betweenExperimentsS: 7, betweenCyclesS: 30});
    expect(own.campaignSettings.find((s) => s.key === 'gaps.between_cycles_s')?.from).toBe('c.yaml:7:21');
    expect(own.campaignSettings.find((s) => s.key === 'gaps.between_experiments_s')?.from).toBe('.lem-config.yaml:2:26');
  });
});

describe('orders, gaps, seeds and adaptive cycles in the plan', () => {
  const campaign = (extra: string) => `name: o\nmodel: m.gguf\ngaps: {between_experiments_s: 5, between_cycles_s: 50}\nsweep:\n  workload.concurrency: [1, 2, 3]\n${extra}`;
  const sequence = (plan: CampaignPlan) => plan.runs.map((r) => `${r.key}/${r.gapKind}:${r.gapBeforeS}`);

  it('puts the cycle gap before the first run of each cycle after the first, the experiment gap elsewhere', async () => {
    p = project({'c.yaml': campaign('cycles: 3\n')});
    const {plan} = await p.plan('c.yaml');
    expect(sequence(plan)).toEqual([
      'conc1#1/none:0', 'conc2#1/experiments:5', 'conc3#1/experiments:5',
      'conc1#2/cycles:50', 'conc2#2/experiments:5', 'conc3#2/experiments:5',
      'conc1#3/cycles:50', 'conc2#3/experiments:5', 'conc3#3/experiments:5',
    ]);
    expect(plan.runs.map((r) => r.position)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(plan.etaS).toBe(5 * 6 + 50 * 2 + plan.configurations.reduce((s, c) => s + 3 * c.estimateS, 0));
  });

  it('in grouped order puts the cycle gap where the configuration changes', async () => {
    p = project({'c.yaml': campaign('cycles: 2\norder: grouped\n')});
    const {plan} = await p.plan('c.yaml');
    expect(sequence(plan)).toEqual(['conc1#1/none:0', 'conc1#2/experiments:5', 'conc2#1/cycles:50', 'conc2#2/experiments:5', 'conc3#1/cycles:50', 'conc3#2/experiments:5']);
  });

  it('reverses every other cycle in reverse order', async () => {
    p = project({'c.yaml': campaign('cycles: 3\norder: reverse\n')});
    const {plan} = await p.plan('c.yaml');
    expect(plan.runs.map((r) => r.key)).toEqual(['conc1#1', 'conc2#1', 'conc3#1', 'conc3#2', 'conc2#2', 'conc1#2', 'conc1#3', 'conc2#3', 'conc3#3']);
  });

  it('draws a seed when the file has none, and keeps one passed back (resume)', async () => {
    p = project({'c.yaml': campaign('cycles: 4\norder: shuffled\n')});
    const first = (await p.plan('c.yaml')).plan;
    expect(first.seedSource).toBe('drawn');
    expect(Number.isInteger(first.seed)).toBe(true);
    expect(first.campaignSettings.find((s) => s.key === 'seed')).toEqual({key: 'seed', value: first.seed, from: 'drawn'});
    const again = (await p.plan('c.yaml', {seed: first.seed})).plan;
    expect(again.seed).toBe(first.seed);
    expect(again.runs).toEqual(first.runs);
    expect(again.hash).toBe(first.hash);
    expect(again.campaignSettings.find((s) => s.key === 'seed')?.from).toBe('drawn (kept from the first plan)');
    const other = (await p.plan('c.yaml', {seed: first.seed + 1})).plan;
    expect(other.hash).not.toBe(first.hash);
  });

  it('keeps the seed the file gives, whatever is passed back', async () => {
    p = project({'c.yaml': campaign('cycles: 2\norder: latin_square\nseed: 9\n')});
    const {plan} = await p.plan('c.yaml', {seed: 1});
    expect([plan.seed, plan.seedSource]).toEqual([9, 'file']);
    expect(plan.campaignSettings.find((s) => s.key === 'seed')?.from).toBe('c.yaml:8:7');
  });

  it('marks adaptive cycles beyond min as conditional and plans up to max', async () => {
    p = project({'c.yaml': campaign('cycles: {min: 2, max: 4, target_ci_pct: 3}\n')});
    const {plan} = await p.plan('c.yaml');
    expect(plan.cycles).toEqual({kind: 'adaptive', min: 2, max: 4, targetCiPct: 3, metric: 'energyPerOutputTokenJ'});
    expect(plan.runs).toHaveLength(12);
    expect(plan.runs.filter((r) => r.conditional).map((r) => r.cycle)).toEqual([3, 3, 3, 4, 4, 4]);
    expect(plan.runs.filter((r) => !r.conditional).every((r) => r.cycle <= 2)).toBe(true);
  });

  it('refuses adaptive cycles in grouped order, at the key that makes the clash', async () => {
    p = project({'c.yaml': campaign('cycles: {min: 2, max: 4, target_ci_pct: 3}\norder: grouped\n'), 'd.yaml': campaign('cycles: {min: 2, max: 4, target_ci_pct: 3}\n')});
    const e = await failure(p.plan('c.yaml'));
    expect(e.code).toBe('E_CONFIG_INVALID');
    expect(e.details).toEqual([expect.objectContaining({path: 'order', location: {file: 'c.yaml', line: 7, col: 1}})]);
    expect(e.details![0]!.message).toMatch(/adaptive cycles.*grouped/);
    const fromCli = await failure(p.plan('d.yaml', {cli: [set('order', 'grouped')]}));
    expect(fromCli.details).toEqual([expect.objectContaining({path: 'cycles', location: {file: 'd.yaml', line: 6, col: 1}})]);
    expect(fromCli.details![0]!.message).toContain('(from --set order)');
  });
});

describe('absolutePaths', () => {
  it('makes file settings absolute but leaves a hub id in model or a backend model_path as it is', () => {
    const data = {model: 'meta-llama/Llama-3.1-8B-Instruct', vllm: {model_path: 'nvidia/Llama-3.1-8B-Instruct-FP8'}, llamacpp: {model_path: 'q4.gguf', grammar_path: 'g/json.gbnf'}, sglang: {model_path: './ckpt/llama'}};
    expect(absolutePaths(data, '/d', new Set(['vllm', 'llamacpp', 'sglang']))).toEqual({
      model: 'meta-llama/Llama-3.1-8B-Instruct',
      vllm: {model_path: 'nvidia/Llama-3.1-8B-Instruct-FP8'},
      llamacpp: {model_path: '/d/q4.gguf', grammar_path: '/d/g/json.gbnf'},
      sglang: {model_path: '/d/ckpt/llama'},
    });
  });
});
