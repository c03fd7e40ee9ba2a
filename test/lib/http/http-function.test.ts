/** The HTTP layer's strict query reader: each parameter once, percent-encoding checked, names safe to echo. */
import { describe, expect, it } from 'vitest';
import { InvalidParameterError, MissingParameterError } from '../../../lib/errors.ts';
import { parseQuery, printable, requireParameter } from '../../../lib/http/http-function.ts';

describe('parseQuery', () => {
  it('decodes names and values, + as a space, and keeps an empty value', () => {
    const parameters = parseQuery('Action=GetSegmentTask&RoomId=Room%201&TaskId=a+b&Empty=&Flag&&');
    expect([...parameters]).toEqual([
      ['Action', 'GetSegmentTask'],
      ['RoomId', 'Room 1'],
      ['TaskId', 'a b'],
      ['Empty', ''],
      ['Flag', ''],
    ]);
  });

  it('refuses a repeated parameter, broken percent-encoding and an over-long query, naming the parameter', () => {
    expect(() => parseQuery('TaskId=a&TaskId=b')).toThrow(/TaskId.*more than once/);
    expect(() => parseQuery('TaskId=%E0%A4%A')).toThrow(InvalidParameterError);
    expect(() => parseQuery('TaskId=%E0%A4%A')).toThrow(/TaskId.*percent-encoded/);
    expect(() => parseQuery(`x=${'a'.repeat(8200)}`)).toThrow(/longer than 8192/);
  });

  it('requires a parameter to be present and not empty', () => {
    const parameters = parseQuery('Action=&Version=2023-11-01');
    expect(requireParameter(parameters, 'Version')).toBe('2023-11-01');
    expect(() => requireParameter(parameters, 'Action')).toThrow(MissingParameterError);
    expect(() => requireParameter(parameters, 'AppId')).toThrow(/AppId/);
  });
});

describe('printable', () => {
  it('echoes only printable ASCII, at most 64 characters', () => {
    expect(printable('Room\n\u0000名')).toBe('Room???');
    expect(printable('x'.repeat(100))).toHaveLength(64);
  });
});
