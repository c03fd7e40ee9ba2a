/**
 * OpenAPI 3.1 document of the HTTP API, generated from the zod schemas the handlers use: each
 * lookup action's query and Result from its declaration (lib/lookup/actions.ts), and the callback
 * envelope. Written to dist/openapi.json by the build (not part of any function's bundle) and
 * served by the local stack at /openapi.json.
 */
import { z } from 'zod';
import { LOOKUP_ACTIONS } from './lookup/actions.ts';
import { CallbackEnvelopeSchema } from './callback/schemas.ts';
import { SUPPORTED_VERSIONS } from './volc/schemas.ts';

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output' = 'output') =>
  z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as Record<string, unknown>;

/** ResponseMetadata of every answer of ours (lib/http/http-function.ts renders it). */
export const ResponseMetadataSchema = z.object({
  RequestId: z.string(),
  Action: z.string().optional(),
  Version: z.string().optional(),
  Service: z.literal('rtc'),
  Region: z.string(),
});

/** Every error answer of ours. */
export const ErrorEnvelopeSchema = z.object({
  ResponseMetadata: ResponseMetadataSchema.extend({
    Error: z.object({
      Code: z.string(),
      Message: z.string(),
      UpstreamCode: z.string().optional(),
      UpstreamRequestId: z.string().optional(),
    }),
  }),
});

const SUCCESS_DESCRIPTION =
  "Result of the action, in Volcengine's envelope. GetSegmentTask answers from the archive carry Result.Archive; " +
  "GetSegmentTask without TaskId answers Volcengine's Result as it gave it (which may be absent).";
const PARAMETER_ERRORS =
  "MissingParameter or InvalidParameter; the message names the parameter. Also Volcengine's own refusal of the " +
  'parameters (its code kept, and in UpstreamCode), e.g. of a GetSegmentTask without TaskId';

const requiredBy = (actions: string[]) => (actions.length ? `; required by ${actions.join(', ')}` : '');

export function buildOpenApiDocument(): Record<string, unknown> {
  const actions = LOOKUP_ACTIONS.map((action) => action.name);
  const parameters = new Map<string, { schema: unknown; actions: string[]; requiredBy: string[] }>();
  for (const { name: action, query } of LOOKUP_ACTIONS) {
    const schema = jsonSchema(query, 'input') as { properties: Record<string, unknown>; required?: string[] };
    for (const [name, property] of Object.entries(schema.properties)) {
      const entry = parameters.get(name) ?? { schema: property, actions: [], requiredBy: [] };
      entry.actions.push(action);
      if (schema.required?.includes(name)) entry.requiredBy.push(action);
      parameters.set(name, entry);
    }
  }
  const errorResponse = (description: string) => ({
    description,
    content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorEnvelope' } } },
  });
  return {
    openapi: '3.1.0',
    info: {
      title: 'rtc-segment-tasks',
      version: '0.1.0',
      description:
        'Volcengine RTC audio-segment task lookups (the same query a Volcengine client sends for GetSegmentTask), ' +
        "their archived history, and the Volcengine event callback. Every answer and error uses Volcengine's envelope.",
    },
    paths: {
      '/': {
        get: {
          operationId: 'lookup',
          summary: `One of ${actions.join(', ')}, chosen by Action`,
          security: [{ sigv4: [] }],
          parameters: [
            { name: 'Action', in: 'query', required: true, schema: { type: 'string', enum: actions } },
            { name: 'Version', in: 'query', required: true, schema: { type: 'string', enum: [...SUPPORTED_VERSIONS] } },
            ...[...parameters.entries()].map(([name, entry]) => ({
              name,
              in: 'query',
              required: false,
              description: `Used by ${entry.actions.join(', ')}${requiredBy(entry.requiredBy)}.`,
              schema: entry.schema,
            })),
          ],
          responses: {
            '200': {
              description: SUCCESS_DESCRIPTION,
              headers: {
                'X-Answer-Source': { schema: { type: 'string', enum: ['volcengine', 'cache', 'archive'] } },
                'X-Upstream-Request-Id': { schema: { type: 'string' } },
              },
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    required: ['ResponseMetadata'],
                    properties: {
                      ResponseMetadata: { $ref: '#/components/schemas/ResponseMetadata' },
                      Result: { oneOf: actions.map((action) => ({ $ref: `#/components/schemas/${action}Result` })) },
                    },
                  },
                },
              },
            },
            '400': errorResponse(PARAMETER_ERRORS),
            '404': errorResponse('InvalidActionOrVersion, or ResourceNotFound.SegmentTask'),
            '405': errorResponse('InvalidHttpMethod'),
            '429': errorResponse('FlowLimitExceeded.QPSOverLimit; see Retry-After'),
            '502': errorResponse('UpstreamError (UpstreamCode and UpstreamRequestId kept)'),
            '503': errorResponse('ServiceUnavailable.Archive'),
            '504': errorResponse('UpstreamTimeout'),
          },
        },
      },
      '/callbacks/volcengine': {
        post: {
          operationId: 'callback',
          summary: "Volcengine event callback (SegmentRealTimeData); authenticated by its Signature, published to the stack's event bus",
          security: [],
          requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/CallbackEnvelope' } } } },
          responses: {
            '200': { description: 'Published to the event bus; registered, recent, unmatched or ignored (Result.Outcome)' },
            '400': errorResponse('Malformed body, or EventTime outside the replay window (InvalidTimestamp)'),
            '401': errorResponse('SignatureDoesNotMatch'),
            '413': errorResponse('RequestEntityTooLarge'),
            '415': errorResponse('UnsupportedMediaType'),
            '503': errorResponse('Not registered and published in time, or the event bus refused it; Volcengine delivers again'),
          },
        },
      },
    },
    components: {
      securitySchemes: {
        sigv4: {
          type: 'apiKey',
          name: 'Authorization',
          in: 'header',
          description: 'AWS Signature Version 4 (API Gateway IAM authorization)',
        },
      },
      schemas: {
        ResponseMetadata: jsonSchema(ResponseMetadataSchema),
        ErrorEnvelope: jsonSchema(ErrorEnvelopeSchema),
        CallbackEnvelope: jsonSchema(CallbackEnvelopeSchema, 'input'),
        ...Object.fromEntries(LOOKUP_ACTIONS.map((action) => [`${action.name}Result`, jsonSchema(action.result)])),
      },
    },
  };
}
