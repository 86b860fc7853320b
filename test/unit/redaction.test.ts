/**
 * Redaction helpers: `Sensitive` / `sensitive()` print as [REDACTED] everywhere, and the paths
 * from `pinoRedactPaths` are really applied by a real pino logger.
 */
import { Console } from 'node:console';
import { Writable } from 'node:stream';
import { format, inspect } from 'node:util';
import fc from 'fast-check';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { REDACTED, pinoRedactPaths, sensitive } from '../../src/index.js';
import { Sensitive } from '../../src/redact/sensitive.js';

const SSN = 'CANARY-SSN-123-45-6789';
const CARD = 'CANARY-CARD-4111111111111111';

/** A Writable that keeps everything written to it. */
function memoryStream(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      chunks.push(typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
      cb();
    },
  });
  return { stream, text: () => chunks.join('') };
}

function redactingLogger(paths: string[]): { logger: pino.Logger; text: () => string } {
  const { stream, text } = memoryStream();
  return { logger: pino({ redact: { paths, censor: REDACTED } }, stream), text };
}

function lines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('Sensitive / sensitive()', () => {
  const values: unknown[] = [
    SSN,
    42,
    0n,
    true,
    null,
    undefined,
    { ssn: SSN, nested: { card: CARD } },
    [SSN, CARD],
    Buffer.from(SSN),
    new Date(0),
  ];

  it('prints as [REDACTED] through inspect, format, JSON, template strings, String() and + ""', () => {
    expect(REDACTED).toBe('[REDACTED]');
    for (const v of values) {
      const s = sensitive(v);
      expect(s).toBeInstanceOf(Sensitive);
      expect(inspect(s)).toBe('[REDACTED]');
      expect(inspect(s, { depth: Infinity, showHidden: true, colors: true })).toContain(
        '[REDACTED]',
      );
      expect(format(s)).toBe('[REDACTED]');
      expect(format('%s', s)).toBe('[REDACTED]');
      expect(format('%o', s)).toBe('[REDACTED]');
      expect(format('%O', s)).toBe('[REDACTED]');
      expect(format('%j', s)).toBe('"[REDACTED]"');
      expect(format('value:', s)).toBe('value: [REDACTED]');
      expect(JSON.stringify(s)).toBe('"[REDACTED]"');
      // Coercing an object to a string is exactly what this test is about.
      /* eslint-disable @typescript-eslint/restrict-template-expressions, @typescript-eslint/restrict-plus-operands */
      expect(`${s}`).toBe('[REDACTED]');
      expect(String(s)).toBe('[REDACTED]');
      expect(s + '').toBe('[REDACTED]');
      /* eslint-enable @typescript-eslint/restrict-template-expressions, @typescript-eslint/restrict-plus-operands */
      expect(s.toString()).toBe('[REDACTED]');
      expect(s.reveal()).toBe(v);
    }
  });

  it('stays redacted when nested in objects, arrays, Maps and logs', () => {
    const s = sensitive(SSN);
    const c = sensitive({ number: CARD });
    const nested = { user: { id: 7, ssn: s, cards: [c, { c }] }, map: new Map([['k', s]]) };
    expect(JSON.stringify(nested)).toBe(
      '{"user":{"id":7,"ssn":"[REDACTED]","cards":["[REDACTED]",{"c":"[REDACTED]"}]},"map":{}}',
    );
    expect(JSON.stringify([s, c])).toBe('["[REDACTED]","[REDACTED]"]');
    const renderings = [
      inspect(nested, { depth: Infinity }),
      inspect(nested, { depth: Infinity, showHidden: true, getters: true }),
      // Even with custom inspection off, the #private value is not visible.
      inspect(nested, { depth: Infinity, customInspect: false }),
      inspect(s, { customInspect: false, showHidden: true }),
      format('%s %o %O %j', nested, nested, nested, nested),
      // eslint-disable-next-line @typescript-eslint/restrict-template-expressions
      `${s} ${c}`,
      JSON.stringify({ ...s }),
      JSON.stringify(Object.entries(s)),
      JSON.stringify(structuredClone(nested.user)),
    ];
    for (const r of renderings) {
      expect(r).not.toContain(SSN);
      expect(r).not.toContain(CARD);
    }
    expect(inspect(nested, { depth: Infinity })).toContain('ssn: [REDACTED]');
    expect(Object.keys(s)).toEqual([]);
    expect(c.reveal()).toEqual({ number: CARD });
  });

  it('console.log prints [REDACTED]', () => {
    const { stream, text } = memoryStream();
    const out = new Console({ stdout: stream, stderr: stream });
    const s = sensitive(SSN);
    out.log(s);
    out.log('ssn=%s', s);
    out.log({ customer: { ssn: s } });
    out.error('failed for', s);
    out.dir(s, { depth: null });
    out.table([{ ssn: s }]);
    expect(text()).not.toContain(SSN);
    expect(text()).toContain('ssn=[REDACTED]');
    expect(text()).toContain('ssn: [REDACTED]');
  });

  it('pino serialises a Sensitive as [REDACTED] even without redact paths', () => {
    const { stream, text } = memoryStream();
    const logger = pino({}, stream);
    logger.info(
      { ssn: sensitive(SSN), nested: { card: sensitive(CARD) } },
      'customer %s',
      sensitive(SSN),
    );
    expect(text()).not.toContain(SSN);
    expect(text()).not.toContain(CARD);
    const [line] = lines(text());
    expect(line).toMatchObject({
      ssn: '[REDACTED]',
      nested: { card: '[REDACTED]' },
      msg: 'customer [REDACTED]',
    });
  });
});

describe('pinoRedactPaths with a real pino logger', () => {
  const paths = pinoRedactPaths(['ssn', 'card-number'], { depth: 2, prefixes: ['req.body'] });

  it('covers the top level, one and two levels of nesting, req.body and hyphenated names', () => {
    expect(paths).toEqual(expect.arrayContaining(['ssn', '*.ssn', '*.*.ssn', 'req.body.ssn']));
    const { logger, text } = redactingLogger(paths);
    const objects: Record<string, unknown>[] = [
      { ssn: SSN, 'card-number': CARD },
      { customer: { ssn: SSN, 'card-number': CARD } },
      { order: { customer: { ssn: SSN, 'card-number': CARD } } },
      { req: { body: { ssn: SSN, 'card-number': CARD }, method: 'POST' } },
      { items: [{ ssn: SSN, 'card-number': CARD }] },
      {
        ssn: SSN,
        'card-number': CARD,
        a: { ssn: SSN, 'card-number': CARD, b: { ssn: SSN, 'card-number': CARD } },
        req: { body: { ssn: SSN, 'card-number': CARD } },
      },
    ];
    for (const o of objects) logger.info(o, 'request');
    logger.flush();
    const out = text();
    expect(out).not.toContain(SSN);
    expect(out).not.toContain(CARD);
    const logged = lines(out);
    expect(logged).toHaveLength(objects.length);
    expect(logged[0]).toMatchObject({ ssn: REDACTED, 'card-number': REDACTED });
    expect(logged[1]).toMatchObject({ customer: { ssn: REDACTED, 'card-number': REDACTED } });
    expect(logged[2]).toMatchObject({
      order: { customer: { ssn: REDACTED, 'card-number': REDACTED } },
    });
    expect(logged[3]).toMatchObject({
      req: { body: { ssn: REDACTED, 'card-number': REDACTED }, method: 'POST' },
    });
    expect(logged[5]).toMatchObject({
      ssn: REDACTED,
      a: { ssn: REDACTED, 'card-number': REDACTED, b: { ssn: REDACTED, 'card-number': REDACTED } },
      req: { body: { ssn: REDACTED } },
    });
    // Other data is left alone, and the input objects are not mutated.
    expect(logged.every((l) => l.msg === 'request')).toBe(true);
    expect(objects[0]).toEqual({ ssn: SSN, 'card-number': CARD });
  });

  it('covers req.body below the wildcard depth when the prefix is given', () => {
    const shallow = pinoRedactPaths(['ssn'], { depth: 0, prefixes: ['ctx.req.body'] });
    expect(shallow).toEqual(['ssn', 'ctx.req.body.ssn']);
    const { logger, text } = redactingLogger(shallow);
    logger.info({ ssn: SSN, ctx: { req: { body: { ssn: SSN } } } });
    expect(text()).not.toContain(SSN);
    expect(lines(text())[0]).toMatchObject({
      ssn: REDACTED,
      ctx: { req: { body: { ssn: REDACTED } } },
    });
  });

  it('covers `depth` levels of wildcard nesting', () => {
    for (const depth of [0, 1, 2, 3, 5]) {
      const { logger, text } = redactingLogger(pinoRedactPaths(['ssn'], { depth }));
      let o: Record<string, unknown> = { ssn: `${SSN}-L0` };
      for (let level = 1; level <= depth; level++)
        o = { [`l${level}`]: o, ssn: `${SSN}-L${level}` };
      logger.info(o);
      expect(text(), `depth ${depth}`).not.toContain(SSN);
    }
  });

  it('uses the default depth of 2', () => {
    expect(pinoRedactPaths(['ssn'])).toEqual(['ssn', '*.ssn', '*.*.ssn']);
  });

  it('rejects a bad depth with a RangeError and bad field names with a TypeError', () => {
    for (const depth of [-1, 9, 1.5, Number.NaN, Infinity, '2' as unknown as number]) {
      expect(() => pinoRedactPaths(['ssn'], { depth })).toThrow(RangeError);
    }
    expect(() => pinoRedactPaths([''])).toThrow(TypeError);
    expect(() => pinoRedactPaths([42 as unknown as string])).toThrow(TypeError);
  });

  /**
   * Contract for any field name: pinoRedactPaths either refuses it (TypeError), or returns paths
   * that pino accepts AND that redact the field wherever they claim to. A path pino accepts but
   * that matches nothing would be a silent leak; one pino rejects crashes logger construction.
   */
  function checkName(field: string): string | undefined {
    let fieldPaths: string[];
    try {
      fieldPaths = pinoRedactPaths([field], { depth: 1, prefixes: ['req.body'] });
    } catch (err) {
      return err instanceof TypeError ? undefined : `threw ${String(err)}`;
    }
    let logger: ReturnType<typeof redactingLogger>;
    try {
      logger = redactingLogger(fieldPaths);
    } catch (err) {
      return `pino rejects the paths ${JSON.stringify(fieldPaths)}: ${(err as Error).message}`;
    }
    logger.logger.info({ [field]: SSN, x: { [field]: SSN }, req: { body: { [field]: SSN } } });
    return logger.text().includes(SSN)
      ? `SILENT LEAK: paths ${JSON.stringify(fieldPaths)} do not redact ${JSON.stringify(field)}`
      : undefined;
  }

  it('never produces paths that pino accepts but that fail to redact (backslash, control chars)', () => {
    const problems = ['back\\slash', 'line\nbreak', 'tab\tname', 'nul\u0000'].map(checkName);
    expect(problems.filter((p) => p !== undefined)).toEqual([]);
  });

  it('never produces paths that pino rejects (quotes, commas, brackets, "..")', () => {
    const problems = ['say"hi', 'a,b', 'a[0]', 'x]y', 'a..b'].map(checkName);
    expect(problems.filter((p) => p !== undefined)).toEqual([]);
  });

  it('handles arbitrary well-behaved field names (identifiers, hyphens, spaces, dots, unicode)', () => {
    const safeChar = fc.constantFrom(..."abcXYZ_$019-. :/@#'é漢😀".split(/(?:)/u));
    fc.assert(
      // ('..' is covered by the test above.)
      fc.property(
        fc.string({ unit: safeChar, minLength: 1, maxLength: 8 }).filter((f) => !f.includes('..')),
        (field) => {
          expect(checkName(field)).toBeUndefined();
        },
      ),
      { numRuns: 200 },
    );
  });
});
