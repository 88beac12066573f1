/**
 * A stand-in for a lem process contending for device locks. Run with
 * `node --import tsx lock-holder.ts '{"lockDir": …, "devices": […], "waitS": 0}'`.
 * Prints `{"ready":true,"pid":N}`, then obeys stdin lines:
 *   acquire → acquireDeviceLocks(devices) → `{"acquired":true,"tookOver":[pids]}` or `{"error":CODE,"message":…}`
 *   release → `{"released":true}`
 * It never releases on its own: the tests kill it with SIGKILL to leave a stale lock.
 */
import {createInterface} from 'node:readline';
import {acquireDeviceLocks, type DeviceLocks} from '../device-lock.js';

const config = JSON.parse(process.argv[2]!) as {lockDir: string; devices: string[]; waitS?: number};
const say = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);
let locks: DeviceLocks | undefined;

createInterface({input: process.stdin}).on('line', (line) => {
  if (line === 'acquire') {
    acquireDeviceLocks(config.devices, {lockDir: config.lockDir, waitS: config.waitS ?? 0, pollMs: 20}).then(
      (held) => {
        locks = held;
        say({acquired: true, tookOver: held.tookOver.map((t) => t.from?.pid ?? null)});
      },
      (error: {code?: string; message?: string}) => say({error: error.code, message: error.message}),
    );
  } else if (line === 'release') {
    locks?.release();
    locks = undefined;
    say({released: true});
  }
});
say({ready: true, pid: process.pid});
