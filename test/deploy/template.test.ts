/**
 * The CloudFormation template written by `serverless package` (npm run package, part of npm test):
 * routes, schedule, bucket settings, least-privilege roles and no plaintext secrets.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ALL_SECRETS } from '../support/credentials.ts';

const TEMPLATE = '.serverless/cloudformation-template-update-stack.json';

interface Resource {
  Type: string;
  Properties: Record<string, any>;
}

const text = existsSync(TEMPLATE) ? readFileSync(TEMPLATE, 'utf8') : '';
const resources: Record<string, Resource> = text ? JSON.parse(text).Resources : {};
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const functions = Object.fromEntries(ofType('AWS::Lambda::Function').map(([name, r]) => [name.replace(/LambdaFunction$/, '').toLowerCase(), r.Properties]));

describe('CloudFormation template', () => {
  it('exists (npm run package writes it)', () => {
    expect(text.length).toBeGreaterThan(0);
  });

  it('runs every function on nodejs22.x, arm64, from its own build folder', () => {
    expect(Object.keys(functions).sort()).toEqual(['archive', 'callback', 'lookup']);
    for (const [name, fn] of Object.entries(functions)) {
      expect(fn.Runtime).toBe('nodejs22.x');
      expect(fn.Architectures).toEqual(['arm64']);
      expect(fn.Handler).toBe(`dist/${name}/${name}.handler`);
    }
  });

  it('routes lookups behind IAM and the callback without an authorizer', () => {
    const routes = Object.fromEntries(ofType('AWS::ApiGatewayV2::Route').map(([, r]) => [r.Properties.RouteKey, r.Properties]));
    expect(Object.keys(routes).sort()).toEqual(['GET /', 'POST /callbacks/volcengine']);
    expect(routes['GET /']!.AuthorizationType).toBe('AWS_IAM');
    expect(routes['POST /callbacks/volcengine']!.AuthorizationType ?? 'NONE').toBe('NONE');
  });

  it('schedules the archiver every 5 minutes, alone, with an on-failure destination', () => {
    const rules = ofType('AWS::Events::Rule');
    expect(rules).toHaveLength(1);
    expect(rules[0]![1].Properties.ScheduleExpression).toBe('rate(5 minutes)');
    expect(JSON.stringify(rules[0]![1].Properties.Targets)).toContain('ArchiveLambdaFunction');
    expect(functions.archive!.ReservedConcurrentExecutions).toBe(1);
    const invokeConfig = ofType('AWS::Lambda::EventInvokeConfig')[0]![1].Properties;
    expect(JSON.stringify(invokeConfig.DestinationConfig.OnFailure.Destination)).toContain('ArchiveFailureQueue');
  });

  it('keeps logs for a limited time', () => {
    const groups = ofType('AWS::Logs::LogGroup');
    expect(groups).toHaveLength(3);
    for (const [, group] of groups) expect(group.Properties.RetentionInDays).toBe(30);
  });

  it('blocks public access to the bucket, encrypts, versions, expires old versions and requires TLS', () => {
    const bucket = resources.ArchiveBucket!.Properties;
    expect(bucket.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(bucket.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toMatch(/AES256|aws:kms/);
    expect(bucket.VersioningConfiguration.Status).toBe('Enabled');
    expect(bucket.LifecycleConfiguration.Rules.some((rule: any) => rule.Status === 'Enabled' && rule.NoncurrentVersionExpiration?.NoncurrentDays > 0)).toBe(true);
    const policy = resources.ArchiveBucketPolicy!.Properties.PolicyDocument.Statement;
    expect(policy).toContainEqual(expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }));
  });

  it('gives each function its own role with only the actions it uses, never "*"', () => {
    const roles = ofType('AWS::IAM::Role');
    const roleOf = (fn: Record<string, any>) => fn.Role['Fn::GetAtt'][0];
    expect(new Set(Object.values(functions).map(roleOf)).size).toBe(3);
    const allowed: Record<string, string[]> = {
      LookupRole: ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'logs:CreateLogStream', 'logs:PutLogEvents', 's3:DeleteObject', 's3:GetObject', 's3:ListBucket', 's3:PutObject', 'ssm:GetParameter'],
      CallbackRole: ['logs:CreateLogStream', 'logs:PutLogEvents', 's3:DeleteObject', 's3:GetObject', 's3:PutObject', 'ssm:GetParameter'],
      ArchiveRole: ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'logs:CreateLogStream', 'logs:PutLogEvents', 's3:DeleteObject', 's3:GetObject', 's3:ListBucket', 's3:PutObject', 'sqs:SendMessage', 'ssm:GetParameter'],
    };
    for (const [name, role] of roles) {
      expect(role.Properties.ManagedPolicyArns ?? []).toEqual([]);
      const statements = role.Properties.Policies.flatMap((p: any) => p.PolicyDocument.Statement);
      const actions = new Set<string>(statements.flatMap((s: any) => [s.Action].flat()));
      expect([...actions].sort()).toEqual(allowed[name]);
      for (const statement of statements) {
        expect(statement.Effect).toBe('Allow');
        for (const action of [statement.Action].flat()) expect(action).not.toMatch(/^\*$|:\*$/);
        for (const resource of [statement.Resource].flat()) expect(resource).not.toBe('*');
        expect(statement.NotAction ?? statement.NotResource).toBeUndefined();
      }
    }
    expect(ofType('AWS::IAM::Policy').filter(([, p]) => JSON.stringify(p).includes('"*"'))).toEqual([]);
  });

  it('declares the quota table on demand with a TTL, and points every function that calls Volcengine at it', () => {
    const table = resources.QuotaTable!.Properties;
    expect(resources.QuotaTable!.Type).toBe('AWS::DynamoDB::Table');
    expect(table.BillingMode).toBe('PAY_PER_REQUEST');
    expect(table.KeySchema).toEqual([{ AttributeName: 'pk', KeyType: 'HASH' }]);
    expect(table.TimeToLiveSpecification).toEqual({ AttributeName: 'expiresAt', Enabled: true });
    for (const name of ['lookup', 'archive']) {
      expect(functions[name]!.Environment.Variables.QUOTA_TABLE).toEqual({ Ref: 'QuotaTable' });
      expect(functions[name]!.Environment.Variables.VOLC_ACCOUNT_QPS).toBe('60');
      expect(functions[name]!.Environment.Variables.ARCHIVE_QPS).toBe('12');
    }
    const quotaGrants = ofType('AWS::IAM::Role').flatMap(([name, role]) =>
      role.Properties.Policies.flatMap((p: any) => p.PolicyDocument.Statement)
        .filter((s: any) => [s.Action].flat().some((a: string) => a.startsWith('dynamodb:')))
        .map((s: any) => [name, s.Resource]),
    );
    expect(quotaGrants).toEqual([
      ['LookupRole', { 'Fn::GetAtt': ['QuotaTable', 'Arn'] }],
      ['ArchiveRole', { 'Fn::GetAtt': ['QuotaTable', 'Arn'] }],
    ]);
  });

  it('holds no plaintext secret: credentials are read at run time from SSM', () => {
    for (const fn of Object.values(functions)) {
      const names = Object.keys(fn.Environment?.Variables ?? {});
      expect(names.filter((n) => /SECRET|ACCESS_KEY|SESSION_TOKEN|PASSWORD/.test(n) && !n.endsWith('_PARAMETER'))).toEqual([]);
    }
    expect(functions.lookup!.Environment.Variables.VOLC_CREDENTIALS_PARAMETER).toMatch(/^\//);
    expect(functions.callback!.Environment.Variables.CALLBACK_SECRETS_PARAMETER).toMatch(/^\//);
    for (const secret of [...ALL_SECRETS, 'demo-callback-secret', 'local-demo-secret']) expect(text).not.toContain(secret);
    expect(text).not.toMatch(/AKLT[A-Za-z0-9]{16,}|AKIA[A-Z0-9]{16}/);
  });
});
