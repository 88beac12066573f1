export * from './engine.js';
export * from './runner.js';
export * from './reaper.js';
export {containerOptions, cgroupPathOf} from './create.js';
export * from './images.js';
