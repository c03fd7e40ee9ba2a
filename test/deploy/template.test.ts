/**
 * The CloudFormation template written by `serverless package` (npm run package, part of npm test):
 * routes, schedule, bucket settings, least-privilege roles and no plaintext secrets.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { FunctionName } from '../../lib/log.ts';
import { metricsOf } from '../../lib/metrics.ts';
import { cloudFormationSpec, conditionHolds, resolved, type Template } from '../support/cloudformation.ts';
import { ALL_SECRETS } from '../support/credentials.ts';

const TEMPLATE = '.serverless/cloudformation-template-update-stack.json';

interface Resource {
  Type: string;
  Properties: Record<string, any>;
}

const text = existsSync(TEMPLATE) ? readFileSync(TEMPLATE, 'utf8') : '';
const template: Template = text ? JSON.parse(text) : { Resources: {} };
const resources = template.Resources as Record<string, Resource>;
/** Whether the metrics catalogue (lib/metrics.ts) has this metric of this function, the template's `function` dimension. */
const published = (functionName: string, metric: string) => metric in metricsOf(functionName as FunctionName);
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const functions = Object.fromEntries(
  ofType('AWS::Lambda::Function').map(([name, r]) => [name.replace(/LambdaFunction$/, '').toLowerCase(), r.Properties]),
);

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

  it('routes every method to the functions (which answer 405 themselves), lookups behind IAM, the callback without an authorizer', () => {
    const routes = Object.fromEntries(ofType('AWS::ApiGatewayV2::Route').map(([, r]) => [r.Properties.RouteKey, r.Properties]));
    expect(Object.keys(routes).sort()).toEqual(['ANY /', 'ANY /callbacks/volcengine']);
    expect(routes['ANY /']!.AuthorizationType).toBe('AWS_IAM');
    expect(routes['ANY /callbacks/volcengine']!.AuthorizationType ?? 'NONE').toBe('NONE');
  });

  it('gives the lookup a configuration it accepts, and a deadline that leaves its timeout 2 s to answer in', async () => {
    const { lookupSettings } = await import('../../lib/config.ts');
    const variables = Object.fromEntries(
      Object.entries(functions.lookup!.Environment.Variables as Record<string, unknown>).filter(([, v]) => typeof v === 'string'),
    ) as Record<string, string>;
    expect(() => lookupSettings(variables)).not.toThrow();
    expect(lookupSettings(variables).budgets.deadlineMs + 2_000).toBeLessThanOrEqual(functions.lookup!.Timeout * 1000);
  });

  it('schedules the archiver every 5 minutes, alone, with an on-failure destination', () => {
    const rules = ofType('AWS::Events::Rule');
    expect(rules).toHaveLength(1);
    expect(rules[0]![1].Properties.ScheduleExpression).toBe('rate(5 minutes)');
    expect(JSON.stringify(rules[0]![1].Properties.Targets)).toContain('ArchiveLambdaFunction');
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
    expect(bucket.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucket.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toMatch(
      /AES256|aws:kms/,
    );
    expect(bucket.VersioningConfiguration.Status).toBe('Enabled');
    expect(
      bucket.LifecycleConfiguration.Rules.some(
        (rule: any) => rule.Status === 'Enabled' && rule.NoncurrentVersionExpiration?.NoncurrentDays > 0,
      ),
    ).toBe(true);
    // Delete markers left with no version behind them are removed, so a listed prefix does not slow down for ever.
    expect(
      bucket.LifecycleConfiguration.Rules.some((rule: any) => rule.Status === 'Enabled' && rule.ExpiredObjectDeleteMarker === true),
    ).toBe(true);
    const policy = resources.ArchiveBucketPolicy!.Properties.PolicyDocument.Statement;
    expect(policy).toContainEqual(expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }));
  });

  it('gives each function its own role with only the actions it uses, never "*"', () => {
    const roles = ofType('AWS::IAM::Role');
    const roleOf = (fn: Record<string, any>) => fn.Role['Fn::GetAtt'][0];
    expect(new Set(Object.values(functions).map(roleOf)).size).toBe(3);
    const allowed: Record<string, string[]> = {
      LookupRole: [
        'dynamodb:GetItem',
        'dynamodb:UpdateItem',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        's3:GetObject',
        's3:ListBucket',
        's3:PutObject',
        'ssm:GetParameter',
      ],
      CallbackRole: ['dynamodb:UpdateItem', 'events:PutEvents', 'logs:CreateLogStream', 'logs:PutLogEvents', 'ssm:GetParameter'],
      ArchiveRole: [
        'dynamodb:DeleteItem',
        'dynamodb:GetItem',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        's3:GetObject',
        's3:ListBucket',
        's3:PutObject',
        'sqs:SendMessage',
        'ssm:GetParameter',
      ],
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

  it("declares the callback's event bus, publishes to it only, and names it in the stack outputs", () => {
    const template = JSON.parse(text) as { Outputs: Record<string, { Value: unknown }> };
    expect(resources.CallbackEventBus!.Type).toBe('AWS::Events::EventBus');
    expect(resources.CallbackEventBus!.Properties.Name).toBe('rtc-segment-tasks-ci-callbacks');
    expect(functions.callback!.Environment.Variables.EVENT_BUS_NAME).toEqual({ Ref: 'CallbackEventBus' });
    const grants = ofType('AWS::IAM::Role').flatMap(([name, role]) =>
      role.Properties.Policies.flatMap((p: any) => p.PolicyDocument.Statement)
        .filter((s: any) => [s.Action].flat().some((a: string) => a.startsWith('events:')))
        .map((s: any) => [name, s.Action, s.Resource]),
    );
    expect(grants).toEqual([['CallbackRole', ['events:PutEvents'], { 'Fn::GetAtt': ['CallbackEventBus', 'Arn'] }]]);
    expect(template.Outputs.CallbackEventBusName!.Value).toEqual({ Ref: 'CallbackEventBus' });
    expect(template.Outputs.CallbackEventBusArn!.Value).toEqual({ 'Fn::GetAtt': ['CallbackEventBus', 'Arn'] });
    // Storing raw events in S3 is a rule target the README documents, off by default: nothing else is deployed.
    expect(ofType('AWS::Events::Rule').filter(([, rule]) => JSON.stringify(rule).includes('CallbackEventBus'))).toEqual([]);
    expect(ofType('AWS::KinesisFirehose::DeliveryStream')).toEqual([]);
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
      // The slot spacing's allowances, the same for every function that takes slots.
      expect(functions[name]!.Environment.Variables.QUOTA_NETWORK_MS).toBe('80');
      expect(functions[name]!.Environment.Variables.QUOTA_CLOCK_MS).toBe('0');
    }
    const quotaGrants = ofType('AWS::IAM::Role').flatMap(([name, role]) =>
      role.Properties.Policies.flatMap((p: any) => p.PolicyDocument.Statement)
        .filter((s: any) => [s.Action].flat().some((a: string) => a.startsWith('dynamodb:')))
        .map((s: any) => [name, s.Resource]),
    );
    expect(quotaGrants.filter(([, resource]) => JSON.stringify(resource).includes('QuotaTable'))).toEqual([
      ['LookupRole', { 'Fn::GetAtt': ['QuotaTable', 'Arn'] }],
      ['ArchiveRole', { 'Fn::GetAtt': ['QuotaTable', 'Arn'] }],
    ]);
  });

  it('declares the registry table as the code expects it (keys, due index, TTL), kept, recoverable, for every function', async () => {
    const { REGISTRY_TABLE_SCHEMA, TTL_ATTRIBUTE } = await import('../../lib/archive/registry-table.ts');
    const registry = resources.RegistryTable! as Resource & { DeletionPolicy?: string };
    expect(registry.Type).toBe('AWS::DynamoDB::Table');
    expect(registry.DeletionPolicy).toBe('Retain');
    const table = registry.Properties;
    expect(table.BillingMode).toBe('PAY_PER_REQUEST');
    expect(table.KeySchema).toEqual(REGISTRY_TABLE_SCHEMA.KeySchema);
    expect([...table.AttributeDefinitions].sort((a: any, b: any) => a.AttributeName.localeCompare(b.AttributeName))).toEqual(
      [...REGISTRY_TABLE_SCHEMA.AttributeDefinitions].sort((a, b) => a.AttributeName.localeCompare(b.AttributeName)),
    );
    expect(table.GlobalSecondaryIndexes).toEqual(REGISTRY_TABLE_SCHEMA.GlobalSecondaryIndexes);
    expect(table.TimeToLiveSpecification).toEqual({ AttributeName: TTL_ATTRIBUTE, Enabled: true });
    expect(table.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    for (const name of ['lookup', 'callback', 'archive'])
      expect(functions[name]!.Environment.Variables.REGISTRY_TABLE).toEqual({ Ref: 'RegistryTable' });
  });

  it('alarms on lost final snapshots, failed runs, archiver errors and the 5xx rate, to the optional topic', () => {
    const alarms = Object.fromEntries(ofType('AWS::CloudWatch::Alarm').map(([name, r]) => [name, r.Properties])) as Record<
      string,
      Record<string, any>
    >;
    expect(Object.keys(alarms).sort()).toEqual([
      'ArchiveErrorsAlarm',
      'ArchiveFailureQueueAlarm',
      'FinalSnapshotsMissedAlarm',
      'Http5xxRateAlarm',
    ]);
    expect(alarms.FinalSnapshotsMissedAlarm).toMatchObject({
      Namespace: 'RtcSegmentTasks',
      MetricName: 'FinalSnapshotsMissed',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    expect(alarms.FinalSnapshotsMissedAlarm!.Dimensions).toEqual([
      { Name: 'service', Value: 'rtc-segment-tasks' },
      { Name: 'function', Value: 'archive' },
    ]);
    const functionOf = (alarm: Record<string, any>) => alarm.Dimensions.find((d: any) => d.Name === 'function')?.Value;
    expect(alarms.ArchiveFailureQueueAlarm!.Dimensions[0].Value).toEqual({ 'Fn::GetAtt': ['ArchiveFailureQueue', 'QueueName'] });
    for (const alarm of Object.values(alarms)) {
      expect(alarm.AlarmActions).toEqual({ 'Fn::If': ['HasAlarmTopic', [expect.any(String)], { Ref: 'AWS::NoValue' }] });
      if (alarm.Namespace === 'RtcSegmentTasks') expect(published(functionOf(alarm), alarm.MetricName)).toBe(true);
    }
    expect(alarms.Http5xxRateAlarm!.Metrics.find((m: any) => m.Expression)?.Expression).toContain('100 * errors / requests');
  });

  it('has a dashboard of metrics the functions publish, each from the function the catalogue says publishes it', () => {
    const body = resources.OperationsDashboard!.Properties.DashboardBody['Fn::Sub'][0] as string;
    const dashboard = JSON.parse(body.replace(/\$\{[^}]+\}/g, 'x')) as { widgets: Array<{ properties: { metrics: unknown[][] } }> };
    const shown: Array<{ name: string; functionName: string }> = [];
    for (const widget of dashboard.widgets) {
      // A row repeats the row before it where it says '.', and '...' stands for all of it but the values that follow.
      let previous: unknown[] = [];
      for (const row of widget.properties.metrics) {
        const values = row.filter((value) => typeof value !== 'object');
        const full =
          values[0] === '...'
            ? [...previous.slice(0, previous.length - (values.length - 1)), ...values.slice(1)]
            : values.map((value, i) => (value === '.' ? previous[i] : value));
        previous = full;
        const [namespace, name, ...dimensions] = full.map(String);
        const functionName = dimensions[dimensions.indexOf('function') + 1];
        if (namespace === 'RtcSegmentTasks') shown.push({ name: name!, functionName: functionName! });
      }
    }
    expect(shown.map((metric) => metric.name)).toEqual(
      expect.arrayContaining(['ArchiveLag', 'TasksPolled', 'SnapshotsWritten', 'Throttled', 'QuotaTokensTaken']),
    );
    expect(shown.filter((metric) => !published(metric.functionName, metric.name))).toEqual([]);
    expect(shown).toContainEqual({ name: 'QuotaTokensTaken', functionName: 'archive' });
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

/** The route that invokes a function: [its logical ID, its properties]. */
function routeTo(functionId: string): [string, Record<string, any>] {
  const [integration] = ofType('AWS::ApiGatewayV2::Integration').find(([, r]) =>
    JSON.stringify(r.Properties.IntegrationUri).includes(`"${functionId}"`),
  )!;
  const [id, route] = ofType('AWS::ApiGatewayV2::Route').find(([, r]) => JSON.stringify(r.Properties.Target).includes(`"${integration}"`))!;
  return [id, route.Properties];
}
/** The HTTP API's one stage: [its logical ID, the resource]. */
const apiStage = () => ofType('AWS::ApiGatewayV2::Stage')[0]! as [string, Resource & { DependsOn?: string[] }];
/** The settings the stage applies to a route: its own entry in RouteSettings replaces the stage's defaults. */
function stageSettingsFor(routeKey: string): Record<string, unknown> {
  const [, stage] = apiStage();
  return stage.Properties.RouteSettings?.[routeKey] ?? stage.Properties.DefaultRouteSettings;
}
const reservedConcurrency = (name: string) => resolved(template, functions[name]!.ReservedConcurrentExecutions);

describe('CloudFormation template: flood protection', () => {
  it('throttles the public callback route at the API stage to 3,000 requests/s', () => {
    // Prepare
    const [, callbackRoute] = routeTo('CallbackLambdaFunction');
    // Act
    const settings = stageSettingsFor(callbackRoute.RouteKey);
    // Assess
    expect(callbackRoute.AuthorizationType ?? 'NONE').toBe('NONE');
    expect(settings.ThrottlingRateLimit).toBe(3000);
  });

  it('lets the callback route burst to 3,000 requests', () => {
    const [, callbackRoute] = routeTo('CallbackLambdaFunction');
    expect(stageSettingsFor(callbackRoute.RouteKey).ThrottlingBurstLimit).toBe(3000);
  });

  it("throttles the lookup route with the stage's default settings: 200 requests/s, burst 200", () => {
    // Prepare
    const [, lookupRoute] = routeTo('LookupLambdaFunction');
    const [, stage] = apiStage();
    // Act
    const settings = stageSettingsFor(lookupRoute.RouteKey);
    // Assess
    expect(settings).toBe(stage.Properties.DefaultRouteSettings);
    expect([settings.ThrottlingRateLimit, settings.ThrottlingBurstLimit]).toEqual([200, 200]);
  });

  it('keeps detailed metrics off for every route, as the framework sets them', () => {
    for (const fn of ['CallbackLambdaFunction', 'LookupLambdaFunction']) {
      expect(stageSettingsFor(routeTo(fn)[1].RouteKey).DetailedMetricsEnabled).toBe(false);
    }
  });

  it('names in RouteSettings only routes the API has', () => {
    // Prepare
    const routeKeys = ofType('AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties.RouteKey);
    // Act
    const named = Object.keys(apiStage()[1].Properties.RouteSettings);
    // Assess
    expect(named.length).toBeGreaterThan(0);
    expect(routeKeys).toEqual(expect.arrayContaining(named));
  });

  it('creates the API stage after every route its RouteSettings name (else CloudFormation cannot find them)', () => {
    // Prepare
    const [stageId, stage] = apiStage();
    const routeIds = Object.fromEntries(ofType('AWS::ApiGatewayV2::Route').map(([id, r]) => [r.Properties.RouteKey, id]));
    // Act
    const needed = Object.keys(stage.Properties.RouteSettings).map((key) => routeIds[key]);
    // Assess
    expect(stageId).toBe('HttpApiStage');
    expect(stage.DependsOn).toEqual(expect.arrayContaining(needed));
  });

  it("validates the API stage's properties against the CloudFormation spec", async () => {
    const spec = await cloudFormationSpec();
    const [stageId] = apiStage();
    expect(spec.problems(template, stageId)).toEqual([]);
  });

  it("validates each route's entry in RouteSettings (a JSON map) as the spec's route settings type", async () => {
    // Prepare
    const spec = await cloudFormationSpec();
    const [, stage] = apiStage();
    // Act
    const problems = Object.entries(stage.Properties.RouteSettings).flatMap(([key, settings]) =>
      spec.typeProblems('AWS::ApiGatewayV2::Stage', 'DefaultRouteSettings', settings, `RouteSettings["${key}"]`),
    );
    // Assess
    expect(problems).toEqual([]);
  });

  it('refuses a misspelt or mistyped route setting (the spec check is not vacuous)', async () => {
    const spec = await cloudFormationSpec();
    expect(
      spec.typeProblems('AWS::ApiGatewayV2::Stage', 'DefaultRouteSettings', { ThrottlingRateLimt: 1, ThrottlingBurstLimit: 2.5 }),
    ).toEqual([
      'AWS::ApiGatewayV2::Stage.DefaultRouteSettings.ThrottlingRateLimt: no such property',
      'AWS::ApiGatewayV2::Stage.DefaultRouteSettings.ThrottlingBurstLimit: 2.5 is not integer',
    ]);
  });

  it("validates every resource's properties against the CloudFormation spec", async () => {
    const spec = await cloudFormationSpec();
    const problems = Object.keys(resources).flatMap((id) => spec.problems(template, id));
    expect(problems).toEqual([]);
  });

  it('caps the callback at a reserved concurrency of 200', () => {
    expect(conditionHolds(template, 'HasCallbackReservedConcurrency')).toBe(true);
    expect(reservedConcurrency('callback')).toBe(200);
  });

  it('reserves a concurrency of 1 for the archiver', () => {
    expect(conditionHolds(template, 'HasArchiveReservedConcurrency')).toBe(true);
    expect(reservedConcurrency('archive')).toBe(1);
  });

  it('leaves the lookup in the unreserved pool, which the callback cannot reach', () => {
    expect(functions.lookup!.ReservedConcurrentExecutions).toBeUndefined();
  });

  it("states the README's prerequisite as the reservations plus the 100 AWS keeps unreserved", () => {
    // Prepare
    const reserved = Object.keys(functions).reduce((sum, name) => sum + Number(reservedConcurrency(name) ?? 0), 0);
    // Act
    const readme = readFileSync('README.md', 'utf8');
    // Assess
    expect(reserved).toBe(201);
    expect(readme).toContain(`account's Lambda concurrency quota must be at least **${reserved + 100}**`);
  });
});
