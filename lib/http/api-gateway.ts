/** The API Gateway HTTP API (payload 2.0) event, as far as our functions read it. */
import { z } from 'zod';

/**
 * @example { "version": "2.0", "routeKey": "GET /", "rawPath": "/",
 *   "rawQueryString": "Action=GetSegmentTask&Version=2023-11-01&AppId=a&RoomId=r&TaskId=t",
 *   "headers": { "accept": "application/json" },
 *   "requestContext": { "requestId": "JKJaXmPLvHcESHA=", "http": { "method": "GET", "path": "/" } } }
 */
export const HttpApiEventSchema = z.looseObject({
  version: z.string().optional(),
  rawPath: z.string().default('/'),
  rawQueryString: z.string().default(''),
  headers: z.record(z.string(), z.string().optional()).nullish(),
  queryStringParameters: z.record(z.string(), z.string().optional()).nullish(),
  requestContext: z.looseObject({
    requestId: z.string().optional(),
    http: z.looseObject({ method: z.string(), path: z.string().optional() }),
  }),
  body: z.string().nullish(),
  isBase64Encoded: z.boolean().optional(),
});
export type HttpApiEvent = z.infer<typeof HttpApiEventSchema>;

export interface HttpResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}
