/**
 * One way to GET from the Hugging Face Hub (or the mirror in HF_ENDPOINT), for datasets and model
 * configs alike: redirects are followed by hand, so that the token goes to the Hub's own origin
 * only (never to the file store it redirects to) and so that `X-Repo-Commit` — on the Hub's first
 * answer only — is kept.
 */

export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co';

/** The Hub's base URL: the argument, else $HF_ENDPOINT, else the public Hub; no trailing slash. */
export function hfEndpoint(endpoint?: string, env: NodeJS.ProcessEnv = process.env): string {
  return (endpoint || env.HF_ENDPOINT || DEFAULT_HF_ENDPOINT).replace(/\/+$/u, '');
}

/** A network error in words: `timed out`, or the message with its cause's code. */
export function describeNetworkError(error: unknown): string {
  const e = error as {name?: string; message?: string; cause?: {code?: string; message?: string}};
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'timed out';
  const cause = e.cause?.code ?? e.cause?.message;
  return cause ? `${e.message ?? 'network error'} (${cause})` : (e.message ?? String(error));
}

export type HubAnswer =
  | {ok: true; response: Response; commit?: string}
  | {ok: false; kind: 'network'; message: string; cause: unknown}
  | {ok: false; kind: 'status'; status: number; statusText: string}
  | {ok: false; kind: 'redirects'};

/** The most redirects followed before giving up. */
const MAX_HOPS = 5;

/**
 * GETs `url`. On `ok`, the caller reads (or cancels) the response body; on a status error the body
 * is already discarded.
 */
export async function hubGet(
  url: string,
  options: {token?: string; fetchImpl?: typeof fetch; signal?: AbortSignal; accept?: string},
): Promise<HubAnswer> {
  const fetchImpl = options.fetchImpl ?? fetch;
  const origin = new URL(url).origin;
  let current = url;
  let commit: string | undefined;
  for (let hop = 0; hop <= MAX_HOPS; hop++) {
    const headers: Record<string, string> = {'user-agent': 'lem'};
    if (options.accept) headers.accept = options.accept;
    if (options.token && new URL(current).origin === origin) headers.authorization = `Bearer ${options.token}`;
    let response: Response;
    try {
      response = await fetchImpl(current, {headers, redirect: 'manual', signal: options.signal});
    } catch (error) {
      return {ok: false, kind: 'network', message: describeNetworkError(error), cause: error};
    }
    commit ??= response.headers.get('x-repo-commit') ?? undefined;
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel();
      current = new URL(location, current).toString();
      continue;
    }
    if (!response.ok) {
      await response.body?.cancel();
      return {ok: false, kind: 'status', status: response.status, statusText: response.statusText};
    }
    return commit ? {ok: true, response, commit} : {ok: true, response};
  }
  return {ok: false, kind: 'redirects'};
}
