/**
 * Reading Prometheus text exposition (what /metrics answers, format 0.0.4): the samples of a metric,
 * picked by a subset of their labels.
 */

/** One sample line: `name{label="value",...} value [timestamp]`. */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/** A sample value: a float, or NaN/Inf/+Inf/-Inf in any case (prom-client writes `Nan`), as Prometheus reads it. */
function parseValue(text: string): number {
  const special = /^([+-]?)(inf|infinity|nan)$/i.exec(text);
  if (special) return special[2]!.toLowerCase() === 'nan' ? NaN : special[1] === '-' ? -Infinity : Infinity;
  const value = Number(text);
  if (text === '' || Number.isNaN(value)) throw new Error(`not a sample value: ${JSON.stringify(text)}`);
  return value;
}

/** One sample line (no comment, not blank) into its name, labels and value; throws on a malformed line. */
function parseLine(line: string): MetricSample {
  const fail = (why: string): never => {
    throw new Error(`malformed metrics line (${why}): ${line}`);
  };
  let rest = line.trimStart();
  const name = NAME.exec(rest)?.[0] ?? fail('no metric name');
  rest = rest.slice(name.length).trimStart();
  const labels: Record<string, string> = {};
  if (rest.startsWith('{')) {
    rest = rest.slice(1).trimStart();
    while (!rest.startsWith('}')) {
      const label = LABEL_NAME.exec(rest)?.[0] ?? fail('no label name');
      rest = rest.slice(label.length).trimStart();
      if (!rest.startsWith('=')) fail(`no = after ${label}`);
      rest = rest.slice(1).trimStart();
      if (!rest.startsWith('"')) fail(`no "value" after ${label}=`);
      rest = rest.slice(1);
      let value = '';
      for (;;) {
        const char = rest[0] ?? fail(`unterminated value of ${label}`);
        rest = rest.slice(1);
        if (char === '"') break;
        if (char === '\\') {
          const escaped = rest[0] ?? fail(`unterminated value of ${label}`);
          rest = rest.slice(1);
          value += escaped === 'n' ? '\n' : escaped; // \\ and \" stand for themselves
        } else {
          value += char;
        }
      }
      labels[label] = value;
      rest = rest.trimStart();
      if (rest.startsWith(',')) rest = rest.slice(1).trimStart();
      else if (!rest.startsWith('}')) fail(`no , or } after ${label}`);
    }
    rest = rest.slice(1);
  }
  const [value, timestamp, extra] = rest.trim().split(/\s+/);
  if (value === undefined || value === '' || extra !== undefined || (timestamp && !/^-?\d+$/.test(timestamp)))
    fail('expected a value and an optional timestamp');
  return { name, labels, value: parseValue(value!) };
}

/** Every sample of an exposition, in order (comments and blank lines skipped). */
export function parseMetrics(text: string): MetricSample[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.trimStart().startsWith('#'))
    .map(parseLine);
}

/** The samples of metric `name` (exactly: `x_count` is not `x`) that carry every label of `labels`. */
export function metricSamples(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): MetricSample[] {
  return parseMetrics(text).filter(
    (sample) =>
      sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
}

/**
 * The value of the one sample of `name` carrying `labels` (a subset of its labels), or undefined when
 * there is none. Throws when several samples match: name more labels, or use metricSum.
 */
export function metricSample(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const samples = metricSamples(text, name, labels);
  if (samples.length > 1) {
    throw new Error(
      `${samples.length} samples of ${name} match ${JSON.stringify(labels)}: ` +
        samples.map((sample) => JSON.stringify(sample.labels)).join(', '),
    );
  }
  return samples[0]?.value;
}

/** The sum of the samples of `name` carrying `labels` (a subset of their labels); 0 when there is none. */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  return metricSamples(text, name, labels).reduce((sum, sample) => sum + sample.value, 0);
}
