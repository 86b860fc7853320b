import { describe, expect, it } from 'vitest';
import { sameValue, valueKey } from '../../src/integrations/typeorm/value-key.js';

/*
 * The equality fieldseal/typeorm uses to leave unchanged sealed values out of an update: equal
 * values are equal, and no two different values are (a collision would be a lost write).
 */
describe('fieldseal/typeorm value equality', () => {
  it('equal values are equal, whatever the key order or byte container', () => {
    expect(sameValue({ a: 1, b: [1, 'x'] }, { b: [1, 'x'], a: 1 })).toBe(true);
    expect(sameValue(Buffer.from('ab'), new Uint8Array([0x61, 0x62]))).toBe(true);
    expect(sameValue(new Date(5), new Date(5))).toBe(true);
    expect(sameValue(Number.NaN, Number.NaN)).toBe(true);
    expect(sameValue(10n, 10n)).toBe(true);
  });

  it('different values never are: strings with separators, kinds, signs, nesting', () => {
    const pairs: [unknown, unknown][] = [
      [['a,sb'], ['a', 'b']],
      [{ a: '1,"b":s2' }, { a: '1', b: '2' }],
      [
        ['a]', 'b'],
        ['a', ']b'],
      ],
      ['1', 1],
      [1, 1n],
      [0, -0],
      [new Date(5), 5],
      ['ab', Buffer.from('ab')],
      [[], {}],
      [[[1]], [1]],
      [null, 'null'],
      [true, 'true'],
    ];
    for (const [a, b] of pairs) expect(sameValue(a, b), `${String(a)} / ${String(b)}`).toBe(false);
  });

  it('what it cannot encode equals nothing, not even itself', () => {
    class Money {
      amount = 1;
    }
    for (const v of [new Money(), new Date(Number.NaN), undefined, () => 1, Symbol('s')]) {
      expect(valueKey(v)).toBeUndefined();
      expect(sameValue(v, v)).toBe(false);
    }
  });
});
