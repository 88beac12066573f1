export {LemCommand} from './base-command.js';
export {loadRegistry} from './registry.js';
