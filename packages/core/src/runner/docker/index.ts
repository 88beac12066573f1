/** The docker runner (DESIGN §4): the engine, the runner, its containers' reaper, and backend images. */
export * from './engine.js';
export * from './runner.js';
export * from './reaper.js';
export {cgroupPathOf, containerCreateOptions, containerKey, containerLabels, type ContainerPlan} from './create.js';
export * from './images.js';
