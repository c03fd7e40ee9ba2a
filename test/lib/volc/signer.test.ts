import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  SigningKeyCache,
  canonicalHeaderValue,
  canonicalQueryString,
  formatXDate,
  signVolcRequest,
  uriEscape,
  type SignInput,
  type SignResult,
} from '../../../lib/volc/signer.ts';

interface Vector {
  name: string;
  input: SignInput & { query: Array<[string, string]> };
  expected: SignResult;
}

const vectorsPath = process.env.VOLC_SIGN_VECTORS ?? fileURLToPath(new URL('../../../../shared/vectors/volc-sign.json', import.meta.url));
const vectors: Vector[] = JSON.parse(readFileSync(vectorsPath, 'utf8')).vectors;

describe('signVolcRequest against the official SDK vectors', () => {
  it('has vectors to check', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(40);
  });

  it.each(vectors.map((v) => [v.name, v] as const))('%s', (_name, vector) => {
    // Act
    const result = signVolcRequest(vector.input);
    // Assess
    expect(result).toEqual(vector.expected);
    expect(Object.keys(result.headers)).toEqual(Object.keys(vector.expected.headers));
  });
});

describe('canonicalisation', () => {
  it('encodes every byte outside the unreserved set with uppercase hex', () => {
    expect(uriEscape("a b+c*d~e!f'g(h)i/j%k")).toBe('a%20b%2Bc%2Ad~e%21f%27g%28h%29i%2Fj%25k');
    expect(uriEscape('名')).toBe('%E5%90%8D');
  });

  it('sorts keys raw and repeated values encoded', () => {
    expect(
      canonicalQueryString([
        ['b', '2'],
        ['a/b', 'x'],
        ['a-b', 'y'],
        ['T', 'b'],
        ['T', '%'],
        ['T', 'A'],
      ]),
    ).toBe('T=%25&T=A&T=b&a-b=y&a%2Fb=x&b=2');
  });

  it('drops empty keys and keeps empty values', () => {
    expect(
      canonicalQueryString([
        ['', 'x'],
        ['k', ''],
      ]),
    ).toBe('k=');
  });

  it('collapses and trims header whitespace', () => {
    expect(canonicalHeaderValue(' \t a \n\n b  ')).toBe('a b');
  });

  it('formats X-Date in UTC and truncates milliseconds', () => {
    expect(formatXDate('2024-02-29T23:59:59.999+08:00')).toBe('20240229T155959Z');
    expect(formatXDate(Date.UTC(2024, 0, 1, 0, 0, 0, 500))).toBe('20240101T000000Z');
    expect(() => formatXDate('not a date')).toThrow(RangeError);
  });
});

describe('SigningKeyCache', () => {
  it('derives a key once per secret/date/region/service and stays bounded', () => {
    // Prepare
    const cache = new SigningKeyCache(2);
    // Act
    const first = cache.get('secret', '20240619', 'cn-north-1', 'rtc');
    const again = cache.get('secret', '20240619', 'cn-north-1', 'rtc');
    cache.get('secret', '20240620', 'cn-north-1', 'rtc');
    cache.get('other', '20240620', 'cn-north-1', 'rtc');
    // Assess
    expect(again).toBe(first);
    expect(cache.size).toBe(2);
    expect(cache.get('secret', '20240619', 'cn-north-1', 'rtc')).not.toBe(first);
    expect(cache.get('secret', '20240619', 'cn-north-1', 'rtc').equals(first)).toBe(true);
  });

  it('gives different signatures for different secrets on the same day', () => {
    const base = vectors[2]!.input;
    const a = signVolcRequest({ ...base, query: [...base.query] });
    const b = signVolcRequest({ ...base, query: [...base.query], secretAccessKey: `${base.secretAccessKey}x` });
    expect(a.signature).not.toBe(b.signature);
  });
});
