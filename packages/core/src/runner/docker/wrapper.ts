/**
 * The shell scripts lem runs in containers. They need only a POSIX `sh` and its builtins (plus
 * `sleep`), so any image works, busybox's included. Written by hand: no library ties a process in
 * a container to the life of a client's connection.
 *
 * The server wrapper, run as `sh -c SERVER_WRAPPER lem-serve <graceS> <pidfile> <signal> --
 * <argv…>`, writes `<pid> <start time>` to the pid file and then *becomes* the server (`exec`), so
 * the server keeps the wrapper's pid, gets signals directly (from docker-init, or a `kill` lem
 * execs) with their default dispositions — a server started as an asynchronous list would have
 * SIGINT and SIGQUIT ignored — and its exit status is the container's or the exec's own. Before
 * that it leaves a watcher in the background on a duplicate of its stdin, the stream lem attached
 * (an asynchronous list's stdin is /dev/null unless redirected, hence fd 3): when that stream
 * ends — lem closed it, or lem died and dockerd closed it — the watcher sends the server
 * `<signal>`, waits `<graceS>` (whole seconds), then SIGKILL, and removes the pid file. So a
 * `kill -9` of lem stops its servers within their grace, as pdeathsig does for host processes.
 */

/** The name the wrapper runs as (`$0`), as provenance records it. */
export const WRAPPER_NAME = 'lem-serve';

/**
 * `starttime <pid>` sets `start` to field 22 of /proc/<pid>/stat (start time, clock ticks since
 * boot), with builtins only; it fails, leaving `start` empty, when the process is gone or a zombie.
 */
const START_TIME_FN = [
  'starttime_() { [ "$1" != Z ] || return 1; shift 19; start=$1; }',
  'starttime() { start=; read -r stat_ <"/proc/$1/stat" 2>/dev/null || return 1; starttime_ ${stat_##*\\) }; }',
];

export const SERVER_WRAPPER = [
  'grace=$1 pidfile=$2 sig=$3',
  'shift 3',
  '[ "$1" = -- ] && shift',
  ...START_TIME_FN,
  'starttime $$',
  'echo "$$ $start" >"$pidfile"',
  'exec 3<&0',
  '{',
  '  while read -r _ <&3; do :; done',
  '  if kill -"$sig" $$ 2>/dev/null; then',
  '    t=0',
  '    while kill -0 $$ 2>/dev/null; do',
  '      if [ "$t" -ge $((grace * 10)) ]; then kill -KILL $$ 2>/dev/null; break; fi',
  '      if sleep 0.1 2>/dev/null; then t=$((t + 1)); else sleep 1; t=$((t + 10)); fi',
  '    done',
  '  fi',
  '  rm -f "$pidfile"',
  '} </dev/null >/dev/null 2>&1 &',
  'exec "$@" </dev/null 3<&-',
].join('\n');

/** Where the servers' pid files are, in every container lem runs them in. */
export const PID_DIR = '/tmp';
const PID_GLOB = `${PID_DIR}/lem-server-*.pid`;

/**
 * A server's pid file. `owner` (the lem's pid and start time) is in the name, so that a reaper
 * can tell a gone lem's servers from those of a live lem that adopted the same kept container.
 */
export function serverPidFile(owner: {pid: number; startTime: number}, serial: number): string {
  return `${PID_DIR}/lem-server-${owner.pid}-${owner.startTime}-${serial}.pid`;
}

/** The owner a pid file names, or null when the name is not one of {@link serverPidFile}'s. */
export function pidFileOwner(path: string): {pid: number; startTime: number} | null {
  const match = /\/lem-server-(\d+)-(\d+)-\d+\.pid$/.exec(path);
  return match ? {pid: Number(match[1]), startTime: Number(match[2])} : null;
}

/** The argument vector of a server behind the wrapper (`sh -c SERVER_WRAPPER …`). */
export function wrappedArgv(argv: string[], stop: {graceS: number; signal: string; pidFile: string}): string[] {
  return ['sh', '-c', SERVER_WRAPPER, ...wrapperArgs(argv, stop)];
}

/** What provenance records: the wrapper's own command line, without its text. */
export function wrapperArgs(argv: string[], stop: {graceS: number; signal: string; pidFile: string}): string[] {
  return [WRAPPER_NAME, String(Math.max(0, Math.ceil(stop.graceS))), stop.pidFile, shellSignal(stop.signal), '--', ...argv];
}

/** `SIGTERM` → `TERM`, as `kill -<name>` takes it. */
export const shellSignal = (signal: string): string => signal.replace(/^SIG/, '');

/**
 * A persistent container's main process under `auto_teardown: true`: it lives while lem's stream
 * on its stdin is open. When that ends (lem is gone), each server's own watcher stops it within
 * its grace; the hold waits until every recorded server is gone, so the container does not end
 * (killing everything at once) before they stopped.
 */
export const HOLD_WHILE_ATTACHED = [
  'while read -r _; do :; done',
  'while :; do',
  '  alive=',
  `  for f in ${PID_GLOB}; do [ -f "$f" ] && read -r pid _ <"$f" && kill -0 "$pid" 2>/dev/null && alive=1; done`,
  '  [ -z "$alive" ] && exit 0',
  '  sleep 1',
  'done',
].join('\n');

/** A kept container's main process (`auto_teardown: false`): outlives lem, for a later run to adopt. */
export const HOLD_FOREVER = 'trap "exit 0" TERM; while :; do sleep 3600 & wait $!; done';

/** Sends `signal` to the server whose pid its pid file records; exits 1 when there is none. */
export function signalServerScript(pidFile: string, signal: string): string {
  return `read -r pid _ <${quote(pidFile)} 2>/dev/null && kill -${shellSignal(signal)} "$pid" 2>/dev/null`;
}

/** Prints `<pid file> <pid> <recorded start> <actual start>` for every server pid file (actual empty: gone). */
export const LIST_SERVERS_SCRIPT = [...START_TIME_FN, `for f in ${PID_GLOB}; do [ -f "$f" ] || continue; read -r pid rec <"$f" || continue; starttime "$pid"; echo "$f $pid $rec $start"; done`, 'true'].join('\n');

/**
 * Stops the given servers (`<pid>:<start time>` each, checked so that a reused pid is never
 * signalled): `signal`, up to `graceS` for them to go, then SIGKILL; removes their pid files.
 */
export function stopServersScript(servers: Array<{pidFile: string; pid: number; startTime: number}>, graceS: number, signal = 'SIGTERM'): string {
  const list = servers.map((s) => `${s.pid}:${s.startTime}`).join(' ');
  const files = servers.map((s) => quote(s.pidFile)).join(' ');
  return [
    ...START_TIME_FN,
    'same() { starttime "$1" && [ "$start" = "$2" ]; }',
    `for s in ${list}; do same "\${s%%:*}" "\${s#*:}" && kill -${shellSignal(signal)} "\${s%%:*}" 2>/dev/null; done`,
    't=0',
    `while [ "$t" -lt ${Math.max(0, Math.ceil(graceS)) * 10} ]; do`,
    '  alive=',
    `  for s in ${list}; do same "\${s%%:*}" "\${s#*:}" && alive=1; done`,
    '  [ -z "$alive" ] && break',
    '  if sleep 0.1 2>/dev/null; then t=$((t + 1)); else sleep 1; t=$((t + 10)); fi',
    'done',
    `for s in ${list}; do same "\${s%%:*}" "\${s#*:}" && kill -KILL "\${s%%:*}" 2>/dev/null; done`,
    `rm -f ${files}`,
    'true',
  ].join('\n');
}

/** Single-quotes a word for sh. */
const quote = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;
