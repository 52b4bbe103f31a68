import { describe, expect, it } from '@jest/globals';
import { Logger } from '@nestjs/common';
import {
  metricSample,
  metricSamples,
  metricSum,
  parseMetrics,
  recordLogs,
  startProcess,
  stop,
  type RunningProcess,
} from '../src/index.js';

const EXPOSITION = `# HELP retail_jobs_total Jobs.
# TYPE retail_jobs_total counter
retail_jobs_total{queue="explanations",outcome="completed"} 3
retail_jobs_total{queue="explanations-interactive",outcome="completed"} 4
retail_jobs_total{ queue = "embeddings" , outcome="failed", } 1.5e1 1700000000000
retail_jobs_total_created{queue="embeddings"} 1700000000
retail_jobs_total{queue="odd \\"one\\", a\\\\b\\n",outcome="completed"} 2
retail_up 1
retail_seconds_bucket{le="+Inf"} +Inf
retail_seconds_bucket{le="-1"} -Inf
retail_seconds_sum NaN
retail_seconds_count Nan
`;

describe('the metrics parser', () => {
  it('reads names, labels (escapes, spaces, a trailing comma), values and timestamps', () => {
    const samples = parseMetrics(EXPOSITION);
    expect(samples).toHaveLength(10);
    expect(samples[2]).toEqual({
      name: 'retail_jobs_total',
      labels: { queue: 'embeddings', outcome: 'failed' },
      value: 15,
    });
    expect(samples[4]!.labels.queue).toBe('odd "one", a\\b\n');
    expect(samples[5]).toEqual({ name: 'retail_up', labels: {}, value: 1 });
    expect(samples.slice(6).map((sample) => sample.value)).toEqual([Infinity, -Infinity, NaN, NaN]);
  });

  it('matches labels as a subset, exactly (a value is not a prefix of another), and the name exactly', () => {
    expect(metricSample(EXPOSITION, 'retail_jobs_total', { queue: 'explanations' })).toBe(3);
    expect(metricSample(EXPOSITION, 'retail_jobs_total', { queue: 'explanations', outcome: 'failed' })).toBe(
      undefined,
    );
    expect(metricSample(EXPOSITION, 'retail_up')).toBe(1);
    expect(metricSample(EXPOSITION, 'retail_jobs')).toBeUndefined();
    expect(metricSamples(EXPOSITION, 'retail_jobs_total', { outcome: 'completed' })).toHaveLength(3);
  });

  it('sums the matching samples; one sample where several match is an error', () => {
    expect(metricSum(EXPOSITION, 'retail_jobs_total', { outcome: 'completed' })).toBe(9);
    expect(metricSum(EXPOSITION, 'retail_jobs_total')).toBe(24);
    expect(metricSum(EXPOSITION, 'retail_nothing')).toBe(0);
    expect(() => metricSample(EXPOSITION, 'retail_jobs_total', { outcome: 'completed' })).toThrow(
      /3 samples of retail_jobs_total match/,
    );
  });

  it('refuses a malformed line rather than reading a wrong value', () => {
    expect(() => parseMetrics('retail_x{queue="a} 1')).toThrow(/malformed metrics line/);
    expect(() => parseMetrics('retail_x{queue="a"} one')).toThrow(/not a sample value/);
    expect(() => parseMetrics('retail_x{queue="a"}')).toThrow(/malformed metrics line/);
  });
});

describe('the log recorder', () => {
  it("keeps level, message, Nest's context and the other arguments (a stack)", () => {
    const log = recordLogs();
    const logger = new Logger('Queues');
    Logger.overrideLogger(log);
    try {
      logger.warn('Redis is away');
      logger.error('it broke', 'Error: it broke\n    at somewhere (file.js:1:1)');
      logger.error('no stack');
    } finally {
      Logger.overrideLogger(false);
    }
    log.debug({ a: 1 });
    log.log(new Error('thrown'));
    expect(log.entries.slice(0, 4)).toEqual([
      { level: 'warn', message: 'Redis is away', context: 'Queues', details: [] },
      {
        level: 'error',
        message: 'it broke',
        context: 'Queues',
        details: ['Error: it broke\n    at somewhere (file.js:1:1)'],
      },
      { level: 'error', message: 'no stack', context: 'Queues', details: [] },
      { level: 'debug', message: '{ a: 1 }', context: undefined, details: [] },
    ]);
    expect(log.entries[4]!.message).toMatch(/^Error: thrown\n\s+at /);
    expect(log.at('error').map((entry) => entry.message)).toEqual(['it broke', 'no stack']);
    expect(log.about(/\n\s+at /).map((entry) => entry.level)).toEqual(['error', 'log']);
    expect(log.about(/^Queues$/)).toHaveLength(3); // the context counts
    expect(log.about(/warn/)).toEqual([]); // the level does not
    expect(log.text().split('\n')[0]).toBe('warn [Queues] Redis is away');
    log.clear();
    expect(log.entries).toEqual([]);
  });

  it('drops the levels it is not asked to keep', () => {
    const log = recordLogs({ levels: ['warn', 'error'] });
    log.debug('chatty');
    log.log('fine');
    log.warn('careful');
    expect(log.entries.map((entry) => entry.message)).toEqual(['careful']);
  });
});

describe('stop', () => {
  /** A stand-in process that exits `afterMs` after a signal (never when undefined), SIGKILL at once. */
  const fake = (afterMs: number | undefined) => {
    const signals: NodeJS.Signals[] = [];
    let exit!: (status: { code: number | null; signal: NodeJS.Signals | null }) => void;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
      (resolve) => (exit = resolve),
    );
    const process: RunningProcess = {
      pid: 1,
      output: () => '',
      waitFor: () => Promise.resolve(),
      exited,
      kill: (signal = 'SIGTERM') => {
        signals.push(signal);
        if (signal === 'SIGKILL') exit({ code: null, signal });
        else if (afterMs !== undefined) setTimeout(() => exit({ code: 0, signal: null }), afterMs);
      },
    };
    return { process, signals, exit };
  };

  it('stops a real process, and a second time resolves at once with the same exit', async () => {
    const server = startProcess('services/testing/dist/fake-openai-server.cli.js');
    await server.waitFor(/listening/);
    const first = await stop(server);
    expect(first.late).toBe(false);
    expect(first.signal === 'SIGTERM' || first.code === 0).toBe(true);
    expect(await stop(server, 'SIGKILL')).toEqual(first);
  });

  it('signals the process and resolves with its exit', async () => {
    const { process, signals } = fake(10);
    expect(await stop(process, 'SIGINT')).toEqual({ code: 0, signal: null, late: false });
    expect(signals).toEqual(['SIGINT']);
  });

  it('resolves at once for a process that has exited, and for none', async () => {
    const { process, exit } = fake(undefined);
    exit({ code: 3, signal: null });
    expect(await stop(process, 'SIGTERM', { withinMs: 60_000 })).toEqual({
      code: 3,
      signal: null,
      late: false,
    });
    expect(await stop(undefined)).toBeUndefined();
  });

  it('kills a process still running past withinMs with SIGKILL, and says it was late', async () => {
    const { process, signals } = fake(undefined);
    expect(await stop(process, 'SIGTERM', { withinMs: 50 })).toEqual({
      code: null,
      signal: 'SIGKILL',
      late: true,
    });
    expect(signals).toEqual(['SIGTERM', 'SIGKILL']);
  });
});
