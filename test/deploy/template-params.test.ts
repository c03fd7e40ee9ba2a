/**
 * The flood protection's params reach the template: the stack packaged again (from a copy of its
 * serverless.yml, beside the built dist/, since packaging in place would remove the .serverless/ the
 * other template tests read) with every throttle and reservation set on the command line.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloudFormationSpec, conditionHolds, resolved, type Template } from '../support/cloudformation.ts';

const PARAMS = {
  callbackRouteRate: '50',
  callbackRouteBurst: '100',
  lookupRouteRate: '20',
  lookupRouteBurst: '40',
  callbackReservedConcurrency: '25',
  archiveReservedConcurrency: 'none',
};
const work = mkdtempSync(join(tmpdir(), 'rtc-params-'));
let template: Template;

beforeAll(async () => {
  cpSync('serverless.yml', join(work, 'serverless.yml'));
  cpSync('deploy', join(work, 'deploy'), { recursive: true });
  symlinkSync(resolve('dist'), join(work, 'dist'));
  const args = Object.entries(PARAMS).map(([name, value]) => `--param=${name}=${value}`);
  await promisify(execFile)(
    process.execPath,
    [resolve('node_modules/serverless/bin/serverless.js'), 'package', '--stage', 'ci', '--region', 'us-east-1', ...args],
    { cwd: work, env: { ...process.env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' } },
  );
  template = JSON.parse(readFileSync(join(work, '.serverless/cloudformation-template-update-stack.json'), 'utf8'));
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

const stage = () => template.Resources.HttpApiStage!.Properties as Record<string, any>;
const reservedConcurrency = (id: string) => resolved(template, template.Resources[id]!.Properties!.ReservedConcurrentExecutions);

describe('CloudFormation template packaged with other flood-protection params', () => {
  it("takes the callback route's throttle from callbackRouteRate and callbackRouteBurst", () => {
    const settings = stage().RouteSettings['ANY /callbacks/volcengine'];
    expect([Number(settings.ThrottlingRateLimit), Number(settings.ThrottlingBurstLimit)]).toEqual([50, 100]);
  });

  it("takes the stage's default throttle (the lookup's) from lookupRouteRate and lookupRouteBurst", () => {
    const settings = stage().DefaultRouteSettings;
    expect([Number(settings.ThrottlingRateLimit), Number(settings.ThrottlingBurstLimit)]).toEqual([20, 40]);
  });

  it("takes the callback's reserved concurrency from callbackReservedConcurrency", () => {
    expect(conditionHolds(template, 'HasCallbackReservedConcurrency')).toBe(true);
    expect(Number(reservedConcurrency('CallbackLambdaFunction'))).toBe(25);
  });

  it("reserves nothing for the archiver when archiveReservedConcurrency is 'none'", () => {
    expect(conditionHolds(template, 'HasArchiveReservedConcurrency')).toBe(false);
    expect(reservedConcurrency('ArchiveLambdaFunction')).toBeUndefined();
  });

  it('still validates against the CloudFormation spec', async () => {
    // Prepare
    const spec = await cloudFormationSpec();
    // Act
    const problems = Object.keys(template.Resources).flatMap((id) => spec.problems(template, id));
    const routeProblems = Object.entries(stage().RouteSettings).flatMap(([key, settings]) =>
      spec.typeProblems('AWS::ApiGatewayV2::Stage', 'DefaultRouteSettings', settings, key),
    );
    // Assess
    expect([...problems, ...routeProblems]).toEqual([]);
  });
});
