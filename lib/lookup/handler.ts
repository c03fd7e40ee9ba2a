/** The lookup function's pipeline: middy with the official HTTP middlewares around our actions. */
import middy from '@middy/core';
import httpErrorHandler from '@middy/http-error-handler';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import httpSecurityHeaders from '@middy/http-security-headers';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Logger } from '@aws-lambda-powertools/logger';
import { AppError, TaskNotFoundError } from '../errors.ts';
import { HttpApiEventSchema, type HttpResult } from '../http/api-gateway.ts';
import { successBody } from '../http/envelope.ts';
import type { Context } from 'aws-lambda';
import { envelopeOf, volcEnvelope } from '../http/middleware.ts';
import { readLookupRequest, readTaskAddress } from './actions.ts';
import type { SegmentTaskLookup } from './segment-task-lookup.ts';

export interface LookupHandlerDeps {
  lookup: SegmentTaskLookup;
  region: string;
  logger: Logger;
}

export const LOOKUP_ACTIONS = ['GetSegmentTask'] as const;

const FALLBACK_BODY = JSON.stringify({
  ResponseMetadata: { Service: 'rtc', Error: { Code: 'InternalError', Message: 'An internal error occurred.' } },
});

export function createLookupHandler(deps: LookupHandlerDeps) {
  const { lookup, region, logger } = deps;

  const answer = async (rawEvent: unknown, context: Context): Promise<HttpResult> => {
    const envelope = envelopeOf(context);
    const parsedEvent = HttpApiEventSchema.safeParse(rawEvent);
    if (!parsedEvent.success) throw new AppError(400, 'InvalidRequest', 'The request is not an API Gateway HTTP API (payload 2.0) event.');
    const request = readLookupRequest(parsedEvent.data, LOOKUP_ACTIONS);
    envelope.action = request.action;
    envelope.version = request.version;
    const address = readTaskAddress(request.parameters);
    logger.appendKeys({ appId: address.appId, roomId: address.roomId, taskId: address.taskId });

    const live = await lookup.live(request.version, address);
    if (!live.task) {
      throw new TaskNotFoundError(
        `The segment task AppId=${address.appId}, RoomId=${address.roomId}, TaskId=${address.taskId} does not exist or started more than 72 hours ago.`,
        { upstream: { requestId: live.upstreamRequestId } },
      );
    }
    return {
      statusCode: 200,
      headers: {
        'Content-Type': 'application/json; charset=utf-8',
        'Cache-Control': 'no-store',
        'X-Answer-Source': live.source,
        ...(live.upstreamRequestId ? { 'X-Upstream-Request-Id': live.upstreamRequestId } : {}),
      },
      body: successBody(envelope, region, { SegmentTask: live.task }),
    };
  };

  return middy<unknown, HttpResult, Error, Context>(answer)
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(httpHeaderNormalizer())
    .use(httpSecurityHeaders())
    .use(httpErrorHandler({ logger: false, fallbackMessage: FALLBACK_BODY }))
    .use(volcEnvelope({ region, logger }));
}
