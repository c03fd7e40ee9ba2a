/**
 * IAM evaluated per call: every AWS call each function made while the suites ran (recorded by
 * test/iam/record-aws-calls.ts, including the packaged zips booted by test/deploy/boot.test.ts) is
 * evaluated with @cloud-copilot/iam-simulate against that function's role and the bucket policy,
 * both taken from the packaged CloudFormation template (EventBridge's PutEvents against the bus it
 * names). S3's rule is added: a GET of a key that does not exist answers 404 only to a caller
 * that may s3:ListBucket the bucket (with no s3:prefix), and 403 AccessDenied to anyone else. Every call must be allowed, and every grant
 * of a role must be used by some call.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { describe, expect, it } from 'vitest';
import { RECORD_DIR, type RecordedCall } from './record-aws-calls.ts';

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const BUCKET = 'rtc-segment-tasks-archive';
const QUOTA_TABLE = 'rtc-segment-tasks-quota';
const REGISTRY_TABLE = 'rtc-segment-tasks-registry';
const tableArn = (table: string) => `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${table}`;
const QUEUE = 'rtc-segment-tasks-failures';
const busArn = (bus: string) => `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/${bus}`;
const ROLE_OF: Record<RecordedCall['fn'], string> = { lookup: 'LookupRole', callback: 'CallbackRole', archive: 'ArchiveRole' };
/** Grants no SDK call of ours uses: the Lambda service uses them with the function's role. */
const PLATFORM_GRANTS: Record<string, string> = {
  'logs:CreateLogStream': "the runtime writes the function's logs",
  'logs:PutLogEvents': "the runtime writes the function's logs",
  'sqs:SendMessage': 'Lambda delivers a failed asynchronous invocation of the archiver to its on-failure queue',
};

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, unknown>;
  Principal?: unknown;
  Sid?: string;
}

interface IamRequest {
  fn: RecordedCall['fn'];
  action: string;
  resource: string;
  context: Record<string, string>;
}

const template = JSON.parse(readFileSync('.serverless/cloudformation-template-update-stack.json', 'utf8')) as {
  Resources: Record<string, { Properties: any }>;
};
/** The callback's bus, as the packaged template names it; the tests publish to a bus of that name (test/support/archive-stack.ts). */
const BUS = template.Resources.CallbackEventBus!.Properties.Name as string;

/** CloudFormation intrinsics of the template, resolved for a stack in ACCOUNT/REGION. */
function resolve(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(resolve);
  if (typeof value !== 'object' || value === null) return value;
  const node = value as Record<string, any>;
  if ('Fn::GetAtt' in node) return attribute(node['Fn::GetAtt'][0], node['Fn::GetAtt'][1]);
  if ('Ref' in node) return reference(node.Ref);
  if ('Fn::Sub' in node) {
    const [text, vars] = Array.isArray(node['Fn::Sub']) ? node['Fn::Sub'] : [node['Fn::Sub'], {}];
    return (text as string).replace(/\$\{([^}]+)\}/g, (_, name: string) =>
      String(
        name in vars ? resolve(vars[name]) : name.includes('.') ? attribute(...(name.split('.') as [string, string])) : reference(name),
      ),
    );
  }
  if ('Fn::Join' in node) return (resolve(node['Fn::Join'][1]) as string[]).join(node['Fn::Join'][0]);
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, resolve(v)]));
}

function reference(name: string): string {
  const pseudo: Record<string, string> = {
    'AWS::Partition': 'aws',
    'AWS::Region': REGION,
    'AWS::AccountId': ACCOUNT,
    ArchiveBucket: BUCKET,
    QuotaTable: QUOTA_TABLE,
    RegistryTable: REGISTRY_TABLE,
  };
  if (name in pseudo) return pseudo[name]!;
  throw new Error(`unresolved Ref ${name}`);
}

function attribute(resource: string, name: string): string {
  const arns: Record<string, string> = {
    'ArchiveBucket.Arn': `arn:aws:s3:::${BUCKET}`,
    'QuotaTable.Arn': tableArn(QUOTA_TABLE),
    'RegistryTable.Arn': tableArn(REGISTRY_TABLE),
    'ArchiveFailureQueue.Arn': `arn:aws:sqs:${REGION}:${ACCOUNT}:${QUEUE}`,
    'CallbackEventBus.Arn': busArn(BUS),
  };
  const arn = arns[`${resource}.${name}`];
  if (!arn) throw new Error(`unresolved GetAtt ${resource}.${name}`);
  return arn;
}

const environmentOf = (fn: RecordedCall['fn']) =>
  template.Resources[`${fn[0]!.toUpperCase()}${fn.slice(1)}LambdaFunction`]!.Properties.Environment.Variables as Record<string, string>;
const SECRET_PARAMETER_OF: Record<RecordedCall['fn'], string> = {
  lookup: environmentOf('lookup').VOLC_CREDENTIALS_PARAMETER!,
  archive: environmentOf('archive').VOLC_CREDENTIALS_PARAMETER!,
  callback: environmentOf('callback').CALLBACK_SECRETS_PARAMETER!,
};

const roleStatements = (role: string): Statement[] =>
  resolve(template.Resources[role]!.Properties.Policies.flatMap((p: any) => p.PolicyDocument.Statement)) as Statement[];
const bucketPolicy = resolve(template.Resources.ArchiveBucketPolicy!.Properties.PolicyDocument) as {
  Version: string;
  Statement: Statement[];
};

/** A recorded key without the test's ARCHIVE_PREFIX and with ids and times made uniform, so equal shapes evaluate once. */
function normaliseKey(key: string): string {
  const at = key.search(/(^|\/)(tasks|watch|runs|callbacks)\//);
  const relative = at < 0 ? key : key.slice(at === 0 && !key.startsWith('/') ? 0 : at + 1);
  return relative
    .replace(/~[^/]+/g, '~id')
    .replace(/\d{6,}/g, '0')
    .replace(/[0-9a-f]{64}/g, 'h');
}

function requestsOf(call: RecordedCall): IamRequest[] {
  const secure = { 'aws:SecureTransport': 'true' };
  const object = (action: string) => ({
    fn: call.fn,
    action,
    resource: `arn:aws:s3:::${BUCKET}/${normaliseKey(call.key!)}`,
    context: secure,
  });
  switch (`${call.service}:${call.command}`) {
    case 's3:GetObject':
      // S3 answers 404 for a missing key only to a caller that may list the bucket, whatever the prefix.
      return call.missing
        ? [object('s3:GetObject'), { fn: call.fn, action: 's3:ListBucket', resource: `arn:aws:s3:::${BUCKET}`, context: secure }]
        : [object('s3:GetObject')];
    case 's3:PutObject':
      return [object('s3:PutObject')];
    case 's3:DeleteObject':
      return [object('s3:DeleteObject')];
    case 's3:ListObjectsV2':
      return [
        {
          fn: call.fn,
          action: 's3:ListBucket',
          resource: `arn:aws:s3:::${BUCKET}`,
          context: { ...secure, 's3:prefix': normaliseKey(call.prefix ?? '') },
        },
      ];
    case 'dynamodb:GetItem':
    case 'dynamodb:UpdateItem':
    case 'dynamodb:DeleteItem':
    case 'dynamodb:Query':
    case 'dynamodb:Scan':
      // Tests name their tables as the template's resources are named here; a Query of an index is on the index.
      return [
        {
          fn: call.fn,
          action: `dynamodb:${call.command}`,
          resource: `${tableArn(call.table!)}${call.index ? `/index/${call.index}` : ''}`,
          context: secure,
        },
      ];
    case 'ssm:GetParameter':
      // Tests name their own parameters; deployed, a function reads the one its environment names.
      return [
        {
          fn: call.fn,
          action: 'ssm:GetParameter',
          resource: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter${SECRET_PARAMETER_OF[call.fn]}`,
          context: secure,
        },
      ];
    case 'events:PutEvents':
      // One request per entry's bus: the bus it was published to, as named by the test (the template's name).
      return (call.buses ?? []).map((bus) => ({ fn: call.fn, action: 'events:PutEvents', resource: busArn(bus), context: secure }));
    default:
      throw new Error(`no IAM mapping for ${call.service}:${call.command}`);
  }
}

function recordedRequests(): IamRequest[] {
  const files = existsSync(RECORD_DIR) ? readdirSync(RECORD_DIR).filter((f) => f.endsWith('.jsonl')) : [];
  const unique = new Map<string, IamRequest>();
  for (const file of files) {
    for (const line of readFileSync(`${RECORD_DIR}/${file}`, 'utf8').split('\n').filter(Boolean)) {
      for (const request of requestsOf(JSON.parse(line) as RecordedCall)) unique.set(JSON.stringify(request), request);
    }
  }
  return [...unique.values()];
}

async function decide(request: IamRequest, statements: Statement[]): Promise<string> {
  const response = await runSimulation(
    {
      request: {
        principal: `arn:aws:iam::${ACCOUNT}:role/${ROLE_OF[request.fn]}`,
        action: request.action,
        resource: { resource: request.resource, accountId: ACCOUNT },
        contextVariables: request.context,
      },
      identityPolicies: [{ name: ROLE_OF[request.fn], policy: { Version: '2012-10-17', Statement: statements } }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(request.action.startsWith('s3:') ? { resourcePolicy: bucketPolicy } : {}),
    } as never,
    {},
  );
  if (response.resultType === 'error')
    throw new Error(`simulation of ${request.action} on ${request.resource} failed: ${JSON.stringify(response.errors)}`);
  return response.overallResult;
}

/** Each statement split into one action on one resource (its condition kept): the grants of a role. */
function grantsOf(statements: Statement[]): Statement[] {
  return statements.flatMap((s) =>
    [s.Action].flat().flatMap((action) => [s.Resource].flat().map((resource) => ({ ...s, Action: action, Resource: resource }))),
  );
}

const requests = recordedRequests();

describe('IAM, evaluated per recorded call against the packaged template', () => {
  it('recorded the calls of every function, the packaged zips included', () => {
    const byFunction = Object.fromEntries(
      (['lookup', 'callback', 'archive'] as const).map((fn) => [
        fn,
        [...new Set(requests.filter((r) => r.fn === fn).map((r) => r.action))].sort(),
      ]),
    );
    console.log(JSON.stringify({ iam_requests_evaluated: requests.length, actions_by_function: byFunction }));
    expect(byFunction.lookup).toEqual(
      expect.arrayContaining([
        's3:GetObject',
        's3:PutObject',
        's3:ListBucket',
        'dynamodb:GetItem',
        'dynamodb:UpdateItem',
        'ssm:GetParameter',
      ]),
    );
    // The callback publishes to its bus and registers tasks; it makes no S3 request at all.
    expect(byFunction.callback).toEqual(['dynamodb:UpdateItem', 'events:PutEvents', 'ssm:GetParameter']);
    expect(requests.filter((r) => r.action === 'events:PutEvents').map((r) => r.resource)).toEqual([busArn(BUS)]);
    expect(byFunction.archive).toEqual(
      expect.arrayContaining([
        's3:GetObject',
        's3:PutObject',
        's3:ListBucket',
        'dynamodb:GetItem',
        'dynamodb:UpdateItem',
        'dynamodb:DeleteItem',
        'dynamodb:Query',
        'ssm:GetParameter',
      ]),
    );
    // Nothing deletes from the bucket any more: the registry moved to DynamoDB.
    expect(requests.some((r) => r.action === 's3:DeleteObject')).toBe(false);
  });

  it('allows every call a function made, under its own role and the bucket policy', async () => {
    const denied: string[] = [];
    for (const request of requests) {
      const result = await decide(request, roleStatements(ROLE_OF[request.fn]));
      if (result !== 'Allowed')
        denied.push(`${request.fn} ${request.action} ${request.resource} ${JSON.stringify(request.context)} → ${result}`);
    }
    expect(denied).toEqual([]);
  });

  it('grants nothing no call uses (besides what the Lambda service uses with the role)', async () => {
    const unused: string[] = [];
    for (const fn of ['lookup', 'callback', 'archive'] as const) {
      const own = requests.filter((r) => r.fn === fn);
      for (const grant of grantsOf(roleStatements(ROLE_OF[fn]))) {
        if (PLATFORM_GRANTS[grant.Action as string]) continue;
        let used = false;
        for (const request of own.filter((r) => r.action === grant.Action)) {
          if ((await decide(request, [grant])) === 'Allowed') {
            used = true;
            break;
          }
        }
        if (!used)
          unused.push(
            `${ROLE_OF[fn]}: ${grant.Action} on ${String(grant.Resource)}` +
              (grant.Condition ? ` if ${JSON.stringify(grant.Condition)}` : ''),
          );
      }
    }
    expect(unused).toEqual([]);
  });

  it('denies what S3 would deny: a missing key read without ListBucket, or plain HTTP', async () => {
    const missingRead: IamRequest = {
      fn: 'callback',
      action: 's3:ListBucket',
      resource: `arn:aws:s3:::${BUCKET}`,
      context: { 'aws:SecureTransport': 'true' },
    };
    const withoutList = roleStatements('CallbackRole').filter((s) => ![s.Action].flat().includes('s3:ListBucket'));
    expect(await decide(missingRead, withoutList)).not.toBe('Allowed');
    const plainHttp: IamRequest = {
      fn: 'lookup',
      action: 's3:GetObject',
      resource: `arn:aws:s3:::${BUCKET}/tasks/~id/~id/~id/runs/0/latest.json`,
      context: { 'aws:SecureTransport': 'false' },
    };
    expect(await decide(plainHttp, roleStatements('LookupRole'))).toBe('ExplicitlyDenied');
  });
});
