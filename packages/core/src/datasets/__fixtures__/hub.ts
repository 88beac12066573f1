/**
 * A Hugging Face Hub stand-in on 127.0.0.1 for the AI Energy Score dataset: `resolve` answers with
 * a redirect to a file store on another origin (as the Hub's is) and the commit it resolved
 * (`X-Repo-Commit`). The file is real Parquet written by hyparquet-writer; `mode` makes either
 * server misbehave in the ways a download can go wrong. Used by core's dataset tests and by
 * `lem init`'s fetch (HF_ENDPOINT pointed at `hubUrl`).
 */
import {createServer, type IncomingMessage, type Server} from 'node:http';
import type {AddressInfo} from 'node:net';
import {gzipSync} from 'node:zlib';
import {parquetWriteBuffer, type ColumnSource} from 'hyparquet-writer';

export const RESOLVED_MAIN = 'c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00';
/** The dataset's rows: 120, of which a null (row 7) and a blank (row 8) are not prompts. */
export const HUB_ROWS: Array<string | null> = Array.from({length: 120}, (_, i) => (i === 7 ? null : i === 8 ? ' ' : `AI Energy Score style prompt ${i}: ${'context '.repeat(i % 30)}`));

/**
 * A Parquet file written by hyparquet-writer: Snappy, row groups of 50 rows, small pages. Columns
 * may override the codec; GZIP is given a compressor here, but the reader has none for it.
 */
function parquetFile(columnData: ColumnSource[]): Buffer {
  return Buffer.from(parquetWriteBuffer({columnData, codec: 'SNAPPY', compressors: {GZIP: (input) => gzipSync(input)}, rowGroupSize: 50, pageSize: 1024}));
}

// Shaped like the Hub's file: an optional UTF8 `text` column (with a null and a blank) beside
// another column. That `id` column is GZIP-compressed, which hyparquet cannot decompress without
// hyparquet-compressors: the file loads only if the reader decodes `text` alone.
export const HUB_DATASET = parquetFile([
  {name: 'id', data: BigInt64Array.from(HUB_ROWS, (_, i) => BigInt(i)), type: 'INT64', codec: 'GZIP'},
  {name: 'text', data: HUB_ROWS, type: 'STRING'},
]);
/** Parquet files that are not the dataset. */
const wrongFiles = {
  'no-text-column': parquetFile([{name: 'prompt', data: ['a prompt', 'another'], type: 'STRING'}]),
  'int-text-column': parquetFile([{name: 'text', data: Int32Array.from([1, 2, 3]), type: 'INT32'}]),
  'no-prompt': parquetFile([{name: 'text', data: [null, ' ', ''], type: 'STRING'}]),
};

export type HubMode = 'ok' | 'not-found' | 'html' | 'truncated' | 'short-chunked' | 'forbidden' | keyof typeof wrongFiles;

export interface Hub {
  hubUrl: string;
  cdnUrl: string;
  /** A URL where nothing listens (connection refused). */
  deadUrl: string;
  mode: HubMode;
  hubRequests: Array<{url: string; auth: string | undefined}>;
  cdnRequests: Array<{url: string; auth: string | undefined}>;
  close(): Promise<void>;
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

function cdnServer(hub: Hub): Server {
  return createServer((req: IncomingMessage, res) => {
    hub.cdnRequests.push({url: req.url ?? '', auth: req.headers.authorization});
    if (hub.mode === 'truncated') {
      res.writeHead(200, {'content-length': String(HUB_DATASET.length)});
      res.write(HUB_DATASET.subarray(0, 300));
      setTimeout(() => res.destroy(), 10);
      return;
    }
    if (hub.mode === 'short-chunked') {
      res.writeHead(200, {'transfer-encoding': 'chunked'});
      res.end(HUB_DATASET.subarray(0, HUB_DATASET.length - 100));
      return;
    }
    const body = hub.mode in wrongFiles ? wrongFiles[hub.mode as keyof typeof wrongFiles] : HUB_DATASET;
    res.writeHead(200, {'content-length': String(body.length), 'content-type': 'application/octet-stream'});
    res.end(body);
  });
}

function hubServer(hub: Hub): Server {
  return createServer((req: IncomingMessage, res) => {
    hub.hubRequests.push({url: req.url ?? '', auth: req.headers.authorization});
    const match = /^\/datasets\/AIEnergyScore\/text_generation\/resolve\/([^/]+)\/data\/train-00000-of-00001\.parquet$/u.exec(req.url ?? '');
    if (!match || hub.mode === 'not-found') {
      res.writeHead(404, {'content-type': 'text/plain'}).end('Entry not found');
      return;
    }
    if (hub.mode === 'forbidden') {
      res.writeHead(401).end('Unauthorized');
      return;
    }
    if (hub.mode === 'html') {
      res.writeHead(200, {'content-type': 'text/html'}).end('<!doctype html><title>Sign in</title>');
      return;
    }
    const revision = decodeURIComponent(match[1]!);
    res.writeHead(302, {location: `${hub.cdnUrl}/files/${encodeURIComponent(revision)}.parquet`, 'x-repo-commit': revision === 'main' ? RESOLVED_MAIN : revision});
    res.end();
  });
}

export async function startHub(): Promise<Hub> {
  const hub: Hub = {hubUrl: '', cdnUrl: '', deadUrl: '', mode: 'ok', hubRequests: [], cdnRequests: [], close: async () => undefined};
  const cdn = cdnServer(hub);
  const server = hubServer(hub);
  hub.cdnUrl = await listen(cdn);
  hub.hubUrl = await listen(server);
  const dead = createServer();
  hub.deadUrl = await listen(dead);
  await close(dead); // nothing listens there now: connection refused
  hub.close = async () => {
    await close(server);
    await close(cdn);
  };
  return hub;
}
