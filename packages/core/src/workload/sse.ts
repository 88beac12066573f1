import {StringDecoder} from 'node:string_decoder';

/** One dispatched server-sent event (WHATWG HTML §9.2 "event stream interpretation"). */
export interface SseEvent {
  /** The `data:` lines joined with `\n` (a lone `data:` gives `''`). */
  data: string;
  /** The `event:` field, or `'message'` when the event had none. */
  event: string;
  /** The last event ID seen so far in the stream (it persists across events, as the spec says). */
  id: string;
}

export type SseListener = (event: SseEvent) => void;

const LF = 10;
const CR = 13;
const COLON = 58;
const SPACE = 32;

/**
 * An incremental event-stream parser: feed it the bytes as they arrive, in pieces of any size,
 * and it calls `onEvent` for each complete event.
 *
 * Written by hand rather than taken from a package because the driver must keep up with at least
 * 50,000 chunks/s on one core while timestamping each one: the popular parsers allocate per line
 * and per event (line arrays, field objects, regex matches), and no dependency may be added anyway.
 * This one scans with `indexOf`, slices only the field values it keeps and allocates one small
 * object per event.
 *
 * Contract:
 * - Bytes are decoded as UTF-8 with a streaming decoder, so a packet may split a multi-byte
 *   character; a leading byte-order mark is dropped.
 * - Lines end with LF, CRLF or CR; a CRLF split between two packets counts as one line end.
 * - Comment lines (`: ping`) and unknown fields are ignored; `data:` with or without the space
 *   after the colon is the same field; `retry:` with only digits sets `retryMs`.
 * - `end()` dispatches a last event that lacks its closing blank line (servers that close the
 *   stream right after `data: [DONE]\n` are common). The spec discards such an event; a measuring
 *   client must not.
 * - Mixing Buffer and string pushes in one stream is not supported (a partial UTF-8 sequence left
 *   in the decoder would be lost).
 */
export class SseParser {
  /** The last `retry:` value, ms, or null when the stream set none. */
  retryMs: number | null = null;

  private readonly decoder = new StringDecoder('utf8');
  /** The unfinished last line carried over from the previous push. */
  private pending = '';
  /** The previous push ended with CR: a LF at the start of the next one belongs to that line end. */
  private skipLf = false;
  private atStart = true;
  private data = '';
  private hasData = false;
  private eventType = '';
  private lastId = '';

  constructor(private readonly onEvent: SseListener) {}

  push(chunk: Buffer | string): void {
    let text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    if (text.length === 0) return;
    if (this.atStart) {
      this.atStart = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.skipLf) {
      this.skipLf = false;
      if (text.charCodeAt(0) === LF) {
        text = text.slice(1);
        if (text.length === 0) return;
      }
    }
    // `pending` holds no line end, so the search for one starts after it; the line starts at 0.
    const scanFrom = this.pending.length;
    const buf = scanFrom === 0 ? text : this.pending + text;
    this.pending = '';
    const len = buf.length;
    let pos = 0;
    let nextLf = buf.indexOf('\n', scanFrom);
    let nextCr = buf.indexOf('\r', scanFrom);
    while (pos < len) {
      if (nextLf !== -1 && nextLf < pos) nextLf = buf.indexOf('\n', pos);
      if (nextCr !== -1 && nextCr < pos) nextCr = buf.indexOf('\r', pos);
      let eol: number;
      if (nextCr === -1) eol = nextLf;
      else if (nextLf === -1) eol = nextCr;
      else eol = nextLf < nextCr ? nextLf : nextCr;
      if (eol === -1) {
        this.pending = pos === 0 ? buf : buf.slice(pos);
        return;
      }
      this.line(buf, pos, eol);
      if (buf.charCodeAt(eol) === CR) {
        if (eol + 1 === len) {
          this.skipLf = true;
          return;
        }
        pos = buf.charCodeAt(eol + 1) === LF ? eol + 2 : eol + 1;
      } else {
        pos = eol + 1;
      }
    }
  }

  /** End of stream: flushes the decoder and the last line, and dispatches an unterminated event. */
  end(): void {
    const rest = this.decoder.end();
    if (rest.length !== 0) this.push(rest);
    if (this.pending.length !== 0) {
      const line = this.pending;
      this.pending = '';
      this.line(line, 0, line.length);
    }
    this.dispatch();
  }

  /** Interprets one line `buf[start, end)` (no line terminator). */
  private line(buf: string, start: number, end: number): void {
    if (start === end) {
      this.dispatch();
      return;
    }
    const first = buf.charCodeAt(start);
    if (first === COLON) return;
    // Fast path: nearly every line of an OpenAI-style stream is `data: {...}`.
    if (first === 100 /* d */ && buf.startsWith('data:', start)) {
      this.appendData(buf, start + 5, end);
      return;
    }
    const colon = buf.indexOf(':', start);
    const nameEnd = colon === -1 || colon >= end ? end : colon;
    const name = buf.slice(start, nameEnd);
    let valueStart = nameEnd === end ? end : nameEnd + 1;
    if (valueStart < end && buf.charCodeAt(valueStart) === SPACE) valueStart++;
    switch (name) {
      case 'data':
        this.appendData(buf, nameEnd === end ? end : nameEnd + 1, end);
        break;
      case 'event':
        this.eventType = buf.slice(valueStart, end);
        break;
      case 'id': {
        const value = buf.slice(valueStart, end);
        if (!value.includes('\0')) this.lastId = value;
        break;
      }
      case 'retry': {
        const value = buf.slice(valueStart, end);
        if (/^[0-9]+$/.test(value)) this.retryMs = Number(value);
        break;
      }
      default:
        break;
    }
  }

  /** `valueStart` points just after the colon; one leading space is dropped. */
  private appendData(buf: string, valueStart: number, end: number): void {
    if (valueStart < end && buf.charCodeAt(valueStart) === SPACE) valueStart++;
    const value = buf.slice(valueStart, end);
    if (this.hasData) this.data += '\n' + value;
    else {
      this.data = value;
      this.hasData = true;
    }
  }

  private dispatch(): void {
    if (!this.hasData) {
      this.eventType = '';
      return;
    }
    const event: SseEvent = {data: this.data, event: this.eventType === '' ? 'message' : this.eventType, id: this.lastId};
    this.data = '';
    this.hasData = false;
    this.eventType = '';
    this.onEvent(event);
  }
}

/** Parses a whole stream at once (tests, small bodies). */
export function parseSse(input: Buffer | string): SseEvent[] {
  const events: SseEvent[] = [];
  const parser = new SseParser((e) => events.push(e));
  parser.push(input);
  parser.end();
  return events;
}
