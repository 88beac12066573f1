import {defineRegisterHook} from '@lem/plugin-kit';
import {backend} from '../index.js';

export default defineRegisterHook(() => [backend]);
