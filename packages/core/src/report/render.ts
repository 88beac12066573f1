/**
 * Figures to SVG with Vega-Lite and Vega in Node (no browser, no canvas: `renderer: 'none'` and
 * `toSVG()`), and SVG to PNG with resvg. The engines are imported on first use only, so a CLI
 * that never renders never loads them (vega and vega-lite cost ~300 ms to import).
 *
 * A spec is compiled once per distinct template (the spec without its `datasets`): a report's
 * per-configuration timelines differ only in their data, so compiling and parsing — half the
 * cost of a small figure — is paid once per figure kind, not once per configuration.
 */
import type {VegaLiteSpec} from './specs/common.js';

interface VegaView {
  data(name: string, values: unknown[]): VegaView;
  toSVG(scaleFactor?: number): Promise<string>;
  finalize(): void;
}

/** Vega's and Vega-Lite's logger: warnings are collected (tests assert there are none), never printed. */
interface Logger {
  level(level?: number): number | Logger;
  error(...args: unknown[]): Logger;
  warn(...args: unknown[]): Logger;
  info(...args: unknown[]): Logger;
  debug(...args: unknown[]): Logger;
}

interface Engines {
  parse(spec: unknown): unknown;
  View: new (runtime: unknown, options: {renderer: 'none'; logger: Logger}) => VegaView;
  compile(spec: unknown, options: {logger: Logger}): {spec: unknown};
}

function collectingLogger(sink: string[]): Logger {
  const logger: Logger = {
    level: (level?: number) => (level === undefined ? 2 : logger),
    error: (...args) => (sink.push(`error: ${args.map(String).join(' ')}`), logger),
    warn: (...args) => (sink.push(args.map(String).join(' ')), logger),
    info: () => logger,
    debug: () => logger,
  };
  return logger;
}

let engines: Promise<Engines> | undefined;

function loadEngines(): Promise<Engines> {
  engines ??= Promise.all([import('vega'), import('vega-lite')]).then(([vega, vl]) => {
    const v = vega as unknown as Pick<Engines, 'parse' | 'View'>;
    return {parse: v.parse, View: v.View, compile: (vl as unknown as Pick<Engines, 'compile'>).compile};
  });
  return engines;
}

/** Renders Vega-Lite specs to SVG text, reusing the compiled runtime of identical templates. */
export class SvgRenderer {
  private readonly runtimes = new Map<string, unknown>();
  /** What Vega-Lite and Vega warned about while compiling and rendering. */
  readonly warnings: string[] = [];
  private readonly logger = collectingLogger(this.warnings);

  async render(spec: VegaLiteSpec): Promise<string> {
    const {parse, View, compile} = await loadEngines();
    const {datasets = {}, ...template} = spec;
    const key = JSON.stringify(template);
    let runtime = this.runtimes.get(key);
    if (runtime === undefined) this.runtimes.set(key, (runtime = parse(compile(template, {logger: this.logger}).spec)));
    const view = new View(runtime, {renderer: 'none', logger: this.logger});
    try {
      for (const [name, values] of Object.entries(datasets)) view.data(name, values);
      return compactSvg(await view.toSVG());
    } finally {
      view.finalize();
    }
  }
}

/**
 * Vega's SVG without what a static picture never shows, a third smaller: coordinates in path
 * data and transforms cut to a tenth of a pixel (Vega writes thousandths), the hidden
 * `foreground` paths and the `background` paths with neither fill nor stroke (interaction
 * hooks: the root group's fill is none), and `pointer-events` attributes.
 */
export function compactSvg(svg: string): string {
  return svg
    .replace(/ (d|transform)="([^"]*)"/g, (_, name: string, value: string) => ` ${name}="${value.replace(/(\.\d)\d+/g, '$1')}"`)
    .replace(/<path class="foreground"[^>]*display="none"\/>/g, '')
    .replace(/<path class="background"[^>]*\/>/g, (path) => (/ (fill|stroke)="/.test(path) ? path : ''))
    .replace(/ pointer-events="none"/g, '');
}

/**
 * Prefixes the SVG's element ids (clip paths, gradients) and their references, so that many
 * figures inlined in one HTML page never resolve `url(#clip1)` to another figure's clip.
 */
export function scopeSvgIds(svg: string, prefix: string): string {
  return svg
    .replace(/\bid="([^"]+)"/g, `id="${prefix}-$1"`)
    .replace(/url\(#([^)]+)\)/g, `url(#${prefix}-$1)`)
    .replace(/href="#([^"]+)"/g, `href="#${prefix}-$1"`);
}

/** PNG at twice the SVG's size (print resolution for a column-wide figure), text in the system's fonts. */
export async function svgToPng(svg: string): Promise<Uint8Array> {
  const {Resvg} = (await import('@resvg/resvg-js')) as unknown as {Resvg: new (svg: string, options: object) => {render(): {asPng(): Uint8Array}}};
  return new Resvg(svg, {fitTo: {mode: 'zoom', value: 2}, font: {loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans'}}).render().asPng();
}
