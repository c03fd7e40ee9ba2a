/**
 * OpenAPI 3.1 document of the HTTP API, generated from the zod schemas the handlers use (action
 * queries, SegmentTask, snapshots, the callback envelope). Written to dist/openapi.json by the
 * build and served by the local stack at /openapi.json.
 */
import { z } from 'zod';
import { ACTION_QUERIES } from './lookup/requests.ts';
import { CallbackEnvelopeSchema } from './callback/schemas.ts';
import { SnapshotFileSchema } from './archive/schemas.ts';
import { SegmentTaskSchema, SUPPORTED_VERSIONS } from './volc/schemas.ts';

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output' = 'output') =>
  z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as Record<string, unknown>;

/** Which run a snapshot belongs to (StartTime), its place in the run's timeline (Seq) and when it was captured. */
const ArchiveInfoSchema = SnapshotFileSchema.pick({ StartTime: true, Seq: true, CapturedAt: true, Final: true, StateHash: true });

/** GetSegmentTask's Result with a TaskId: the task, and where the archive answered, which snapshot. */
const TaskResultSchema = z.object({ SegmentTask: SegmentTaskSchema, Archive: ArchiveInfoSchema.optional() });

/** Without TaskId, Volcengine's Result as it answered (its form is unconfirmed), credential-like fields removed. */
const WithoutTaskIdResultSchema = z
  .unknown()
  .describe(
    "Without TaskId: Volcengine's Result as it answered it (absent, null, a SegmentTask or another shape), " +
      'with credential-like fields removed; never cached, registered or archived',
  );

const ResultSchemas: Record<keyof typeof ACTION_QUERIES, z.ZodType> = {
  GetSegmentTask: z.union([TaskResultSchema, WithoutTaskIdResultSchema]),
  WatchSegmentTask: z.object({ Watched: z.literal(true), AlreadyWatched: z.boolean() }),
  ListSegmentTaskSnapshots: z.object({
    StartTime: z.number().int(),
    Snapshots: z.array(ArchiveInfoSchema.extend({ SegmentTask: SegmentTaskSchema })),
    /** More of the run's timeline follows: pass it as PageToken. */
    NextPageToken: z.string().optional(),
  }),
  ListArchivedSegmentTasks: z.object({
    AppId: z.string(),
    RoomId: z.string(),
    /** TaskIds in key order, each one's runs newest first. */
    Runs: z.array(z.object({ TaskId: z.string(), StartTime: z.number().int() })),
    NextPageToken: z.string().optional(),
  }),
};

const ResponseMetadataSchema = z.object({
  RequestId: z.string(),
  Action: z.string().optional(),
  Version: z.string().optional(),
  Service: z.literal('rtc'),
  Region: z.string(),
});

const ErrorEnvelopeSchema = z.object({
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
  const actions = Object.keys(ACTION_QUERIES) as Array<keyof typeof ACTION_QUERIES>;
  const parameters = new Map<string, { schema: unknown; actions: string[]; requiredBy: string[] }>();
  for (const action of actions) {
    const schema = jsonSchema(ACTION_QUERIES[action], 'input') as { properties: Record<string, unknown>; required?: string[] };
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
        ...Object.fromEntries(actions.map((action) => [`${action}Result`, jsonSchema(ResultSchemas[action])])),
      },
    },
  };
}
