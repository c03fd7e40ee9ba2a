/**
 * The lookup endpoint's requests: a GET naming a served Action and a supported Version, and the
 * zod schemas of the actions' queries (the declarations in actions.ts name theirs; parsing and the
 * OpenAPI document read them there). GetSegmentTask takes the same query a Volcengine client sends.
 */
import { z } from 'zod';
import { InvalidActionOrVersionError, InvalidParameterError, MethodNotAllowedError, MissingParameterError } from '../errors.ts';
import { parseQuery, printable, requireParameter, type HttpApiEvent, type QueryParameters } from '../http/http-function.ts';
import { SUPPORTED_VERSIONS, VOLC_ID_PATTERN, type ApiVersion } from '../volc/schemas.ts';

export const ID_RULE = 'it must be 1 to 128 characters of letters, digits, "_", "@", "-" or "."';

/** AppId, RoomId, TaskId (or UserId for auto segmentation). @example "room1-audit@corp" */
const IdSchema = z.string().regex(VOLC_ID_PATTERN, ID_RULE);
const WholeNumber = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,16}$/, 'it must be a whole number')
    .transform(Number)
    .pipe(z.number().min(min, `it must be between ${min} and ${max}`).max(max, `it must be between ${min} and ${max}`));

/** A run's StartTime, epoch milliseconds (2020-01-01 to now + 1 day, checked against the clock when read). @example "1795593600000" */
const StartTimeSchema = WholeNumber(0, Number.MAX_SAFE_INTEGER);

/**
 * A task, and optionally one run of it by its StartTime (epoch ms); without StartTime, the current
 * (or newest archived) run. The queries below extend it.
 * @example { "AppId": "661e3b4c9a5f7d0012a543cf", "RoomId": "Room1", "TaskId": "Task1", "StartTime": "1795593600000" }
 */
const TaskQuerySchema = z.object({ AppId: IdSchema, RoomId: IdSchema, TaskId: IdSchema, StartTime: StartTimeSchema.optional() });

/**
 * Query of GetSegmentTask: a task (TaskId is optional, as in Volcengine's own docs: without it the
 * request is passed to Volcengine as sent and its answer returned, whatever it is; StartTime then
 * cannot be given), and optionally one run of it by its StartTime (epoch ms).
 * @example { "AppId": "661e3b4c9a5f7d0012a543cf", "RoomId": "Room1", "TaskId": "Task1" }
 */
export const GetQuerySchema = TaskQuerySchema.extend({ TaskId: IdSchema.optional() });

/**
 * Query of WatchSegmentTask: StartTime (epoch ms) when known gives the run its deadline; one
 * announced ahead is waited for.
 * @example { "AppId": "661e3b4c9a5f7d0012a543cf", "RoomId": "Room1", "TaskId": "Task1", "StartTime": "1795593600000" }
 */
export const WatchQuerySchema = TaskQuerySchema;

/** A page's size and where it goes on (a token an earlier page answered). */
const PagingShape = {
  PageSize: WholeNumber(1, 100).optional(),
  PageToken: z
    .string()
    .regex(/^[A-Za-z0-9+/=_.~-]{1,1024}$/, 'it is not a token this API returned')
    .optional(),
};

/**
 * Query of ListArchivedSegmentTasks.
 * @example { "AppId": "661e3b4c9a5f7d0012a543cf", "RoomId": "Room1", "PageSize": "20" }
 */
export const RoomPageQuerySchema = z.object({ AppId: IdSchema, RoomId: IdSchema, ...PagingShape });

/**
 * Query of ListSegmentTaskSnapshots: a task, optionally one run of it by its StartTime (else its
 * newest archived run), and a page of its timeline (PageSize 1–100, default 100; PageToken from
 * the previous page, which stays on the same run).
 * @example { "AppId": "661e3b4c9a5f7d0012a543cf", "RoomId": "Room1", "TaskId": "Task1", "PageSize": "50" }
 */
export const SnapshotsQuerySchema = TaskQuerySchema.extend(PagingShape);

export interface LookupRequest {
  action: string;
  version: ApiVersion;
  parameters: QueryParameters;
}

export function readLookupRequest(event: HttpApiEvent, actions: readonly string[]): LookupRequest {
  const method = event.requestContext.http.method.toUpperCase();
  if (method !== 'GET') {
    throw new MethodNotAllowedError(printable(method), 'GET');
  }
  if (event.body) throw new InvalidParameterError('body', 'a GET request must not carry one');
  const parameters = parseQuery(event.rawQueryString);
  const action = requireParameter(parameters, 'Action');
  const version = requireParameter(parameters, 'Version');
  if (!actions.includes(action)) {
    throw new InvalidActionOrVersionError(`The Action ${printable(action)} is not supported; use one of ${actions.join(', ')}.`);
  }
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(version)) {
    throw new InvalidActionOrVersionError(
      `The Version ${printable(version)} is not supported for ${action}; use ${SUPPORTED_VERSIONS.join(' or ')}.`,
    );
  }
  return { action, version: version as ApiVersion, parameters };
}

/**
 * Reads the parameters `schema` names, in the order it names them; the first problem becomes a
 * MissingParameter (absent or empty) or InvalidParameter error naming the parameter.
 */
export function readQuery<S extends z.ZodObject>(schema: S, parameters: QueryParameters): z.infer<S> {
  const names = Object.keys(schema.shape);
  const values: Record<string, string> = {};
  for (const name of names) {
    const value = parameters.get(name);
    if (value !== undefined && value !== '') values[name] = value;
  }
  const parsed = schema.safeParse(values);
  if (parsed.success) return parsed.data;
  const issue = [...parsed.error.issues].sort((a, b) => names.indexOf(String(a.path[0])) - names.indexOf(String(b.path[0])))[0]!;
  const name = String(issue.path[0]);
  if (values[name] === undefined) throw new MissingParameterError(name);
  throw new InvalidParameterError(name, issue.message);
}
