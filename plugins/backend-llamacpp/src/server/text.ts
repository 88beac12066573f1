/**
 * Turning generated tokens into streamed text: UTF-8 sequences split across byte tokens are held
 * until complete, and text that may be the start of a stop string is held until it is known not
 * to be one. Pure and model-free (the detokenizer is injected), so it is tested on its own.
 */

/** Detokenizes `tokens` as the continuation of `previous` (which fixes SentencePiece's leading space). */
export type Detokenize = (tokens: readonly number[], previous: readonly number[]) => string;

const REPLACEMENT = '\uFFFD';
/** Tokens of context handed to the detokenizer; a few are enough for its leading-space rules. */
const CONTEXT_TOKENS = 8;

/**
 * Incremental detokenizer. `push(token)` returns the text that is final after this token. Text
 * ending in U+FFFD (an incomplete UTF-8 sequence so far) is held: the next byte token may complete
 * it. Tokens are re-detokenized only since the last point where nothing was held.
 */
export class TokenTextDecoder {
  private context: number[];
  private pending: number[] = [];
  private emittedChars = 0;

  constructor(
    private readonly detokenize: Detokenize,
    promptTail: readonly number[] = [],
  ) {
    this.context = promptTail.slice(-CONTEXT_TOKENS);
  }

  push(token: number): string {
    this.pending.push(token);
    const text = this.detokenize(this.pending, this.context);
    let stableEnd = text.length;
    while (stableEnd > 0 && text[stableEnd - 1] === REPLACEMENT) stableEnd--;
    const out = stableEnd > this.emittedChars ? text.slice(this.emittedChars, stableEnd) : '';
    this.emittedChars = Math.max(this.emittedChars, stableEnd);
    if (stableEnd === text.length) {
      this.context = [...this.context, ...this.pending].slice(-CONTEXT_TOKENS);
      this.pending = [];
      this.emittedChars = 0;
    }
    return out;
  }

  /** Everything still held (an incomplete sequence decodes to U+FFFD). */
  flush(): string {
    if (this.pending.length === 0) return '';
    const text = this.detokenize(this.pending, this.context);
    const out = text.slice(this.emittedChars);
    this.context = [...this.context, ...this.pending].slice(-CONTEXT_TOKENS);
    this.pending = [];
    this.emittedChars = 0;
    return out;
  }
}

/**
 * Stop-string matcher over streamed text. `push(text)` returns the text safe to emit and whether
 * a stop string was found; the stop string and anything after it are never emitted.
 */
export class StopStringMatcher {
  private held = '';
  private readonly stops: string[];

  constructor(stops: readonly string[]) {
    this.stops = stops.filter((s) => s.length > 0);
  }

  push(text: string): {emit: string; stopped: boolean} {
    const buffer = this.held + text;
    let first = -1;
    for (const stop of this.stops) {
      const at = buffer.indexOf(stop);
      if (at !== -1 && (first === -1 || at < first)) first = at;
    }
    if (first !== -1) {
      this.held = '';
      return {emit: buffer.slice(0, first), stopped: true};
    }
    const hold = this.partialStopSuffix(buffer);
    this.held = buffer.slice(buffer.length - hold);
    return {emit: buffer.slice(0, buffer.length - hold), stopped: false};
  }

  /** The held text, released when generation ends without a stop. */
  flush(): string {
    const out = this.held;
    this.held = '';
    return out;
  }

  /** Length of the longest suffix of `buffer` that is a proper prefix of some stop string. */
  private partialStopSuffix(buffer: string): number {
    let longest = 0;
    for (const stop of this.stops) {
      for (let n = Math.min(stop.length - 1, buffer.length); n > longest; n--) {
        if (buffer.endsWith(stop.slice(0, n))) {
          longest = n;
          break;
        }
      }
    }
    return longest;
  }
}
