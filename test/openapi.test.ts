/** The OpenAPI document in the build output is valid OpenAPI 3.1 and matches the handlers' schemas. */
import { readFileSync } from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { buildOpenApiDocument } from '../lib/openapi.ts';

describe('OpenAPI document', () => {
  it('is valid OpenAPI 3.1', async () => {
    const document = JSON.parse(readFileSync('dist/openapi.json', 'utf8'));
    const result = await new Validator().validate(document);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(document.openapi).toBe('3.1.0');
  });

  it('is what the code generates, with every action and the id rule of the handlers', () => {
    const document = buildOpenApiDocument() as any;
    expect(JSON.parse(readFileSync('dist/openapi.json', 'utf8'))).toEqual(document);
    const parameters = document.paths['/'].get.parameters;
    expect(parameters.find((p: any) => p.name === 'Action').schema.enum).toEqual([
      'GetSegmentTask',
      'WatchSegmentTask',
      'ListSegmentTaskSnapshots',
      'ListArchivedSegmentTasks',
    ]);
    expect(parameters.find((p: any) => p.name === 'TaskId').schema.pattern).toBe('^[a-zA-Z0-9_@.-]{1,128}$');
    expect(document.paths['/'].get.responses['200'].content['application/json'].schema.required).toEqual(['ResponseMetadata']);
    expect(document.components.schemas.CallbackEnvelope.required).toContain('Signature');
    expect(document.paths['/callbacks/volcengine'].post.security).toEqual([]);
  });

  it('marks TaskId optional for GetSegmentTask only, as Volcengine does, and says what it answers without one', () => {
    const document = buildOpenApiDocument() as any;
    const taskId = document.paths['/'].get.parameters.find((p: any) => p.name === 'TaskId');
    expect(taskId.description).toBe(
      'Used by GetSegmentTask, WatchSegmentTask, ListSegmentTaskSnapshots; required by WatchSegmentTask, ListSegmentTaskSnapshots.',
    );
    const getResult = document.components.schemas.GetSegmentTaskResult;
    expect(getResult.anyOf).toHaveLength(2);
    expect(getResult.anyOf[0].required).toEqual(['SegmentTask']);
    expect(getResult.anyOf[1].description).toContain('Without TaskId');
  });
});
