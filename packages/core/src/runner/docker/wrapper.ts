/**
 * The shell wrappers lem runs in containers. They need only a POSIX `sh` (busybox is enough),
 * so any image works. Written by hand: no library starts a process in a container and ties its
 * life to a client connection.
 *
 * SERVER: `sh -c SERVER lem-serve <graceS> <pidfile> <server argv…>` starts the server with
 * stdin from /dev/null, writes its pid, and watches its own stdin — the stream lem attached —
 * on a duplicate fd (an asynchronous list's stdin is /dev/null unless redirected explicitly).
 * When that stream ends (lem closed it, or died: dockerd then closes it) or on SIGTERM, it sends
 * TERM to the server, waits the grace, then KILL. It exits with the server's status, so an
 * ephemeral container's exit code is the server's.
 */
export const SERVER_WRAPPER = [
  'grace=$1; pidfile=$2; shift 2',
  'exec 3<&0',
  '"$@" </dev/null 3<&- &',
  'server=$!',
  'echo "$server" > "$pidfile"',
  'stop() { kill -TERM "$server" 2>/dev/null; n=0; while kill -0 "$server" 2>/dev/null; do n=$((n+1)); if [ "$n" -gt $((grace*10)) ]; then kill -KILL "$server" 2>/dev/null; break; fi; sleep 0.1; done; }',
  'trap stop TERM INT HUP',
  '{ while read -r _ <&3; do :; done; kill -TERM $$ 2>/dev/null; } </dev/null >/dev/null 2>&1 &',
  'watcher=$!',
  'exec 3<&-',
  // A trapped signal interrupts `wait` (status 128+n) before the server is gone: wait again; once
  // it is reaped, `wait` answers 127 and the status already read stands.
  'wait "$server"; code=$?',
  'while kill -0 "$server" 2>/dev/null; do wait "$server"; code=$?; done',
  'wait "$server" 2>/dev/null; last=$?; [ "$last" -ne 127 ] && code=$last',
  'kill "$watcher" 2>/dev/null',
  'rm -f "$pidfile"',
  'exit "$code"',
].join('\n');

/** A persistent container's main process under `auto_teardown: true`: lives while lem's stream is open. */
export const HOLD_WHILE_ATTACHED = 'while read -r _; do :; done';

/** A kept container's main process (`auto_teardown: false`): outlives lem, for a later run to adopt. */
export const HOLD_FOREVER = 'trap "exit 0" TERM; while :; do sleep 3600 & wait $!; done';

/** Where a server's pid is written inside the container; the owner is in the name so a reaper stops only a dead lem's servers. */
export function serverPidFile(owner: string, n: number): string {
  return `/tmp/lem-server-${owner}-${n}.pid`;
}

/** Sends `signal` to the servers whose pid files match `glob` (in the container). */
export function killServersScript(glob: string, signal: 'TERM' | 'KILL'): string {
  return `for f in ${glob}; do [ -f "$f" ] && kill -${signal} "$(cat "$f")" 2>/dev/null; done; true`;
}
