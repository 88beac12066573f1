import {defineRegisterHook} from '@lem/plugin-kit';
import {notifier} from '../index.js';

export default defineRegisterHook(() => [notifier]);
