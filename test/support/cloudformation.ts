/**
 * A packaged CloudFormation template read as CloudFormation reads it: its conditions evaluated, `Fn::If`
 * resolved, and resource properties checked against AWS's resource specification (the CloudFormation
 * registry schemas as @aws-cdk/aws-service-spec ships them, offline).
 */
import { loadAwsServiceSpec } from '@aws-cdk/aws-service-spec';

export interface Template {
  Conditions?: Record<string, unknown>;
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown>; DependsOn?: string | string[] }>;
}

type Intrinsic = Record<string, unknown>;
const NO_VALUE = { Ref: 'AWS::NoValue' };
const isIntrinsic = (value: unknown): value is Intrinsic => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && (keys[0] === 'Ref' || keys[0]!.startsWith('Fn::') || keys[0] === 'Condition');
};

/** A condition's value: Fn::Equals, Fn::Not, Fn::And, Fn::Or and Condition over literals, as CloudFormation computes it. */
export function conditionHolds(template: Template, name: string): boolean {
  const condition = template.Conditions?.[name];
  if (condition === undefined) throw new Error(`no condition ${name}`);
  return holds(template, condition);
}

function holds(template: Template, expression: unknown): boolean {
  const [[fn, args]] = Object.entries(expression as Intrinsic) as [[string, unknown[]]];
  switch (fn) {
    case 'Fn::Equals':
      return String(args[0]) === String(args[1]);
    case 'Fn::Not':
      return !holds(template, args[0]);
    case 'Fn::And':
      return args.every((arg) => holds(template, arg));
    case 'Fn::Or':
      return args.some((arg) => holds(template, arg));
    case 'Condition':
      return conditionHolds(template, args as unknown as string);
    default:
      throw new Error(`cannot evaluate ${fn} in a condition`);
  }
}

/** A property's value as deployed: Fn::If resolved by its condition, AWS::NoValue as undefined. */
export function resolved(template: Template, value: unknown): unknown {
  if (isIntrinsic(value) && 'Fn::If' in value) {
    const [name, whenTrue, whenFalse] = value['Fn::If'] as [string, unknown, unknown];
    return resolved(template, conditionHolds(template, name) ? whenTrue : whenFalse);
  }
  return JSON.stringify(value) === JSON.stringify(NO_VALUE) ? undefined : value;
}

/**
 * A resource's properties as CloudFormation deploys them: every Fn::If resolved by its condition (the branch
 * not taken is never validated, as CloudFormation does not), properties set to AWS::NoValue left out.
 */
export function deployedProperties(template: Template, id: string): Record<string, unknown> {
  return deepResolved(template, template.Resources[id]?.Properties ?? {}) as Record<string, unknown>;
}

function deepResolved(template: Template, value: unknown): unknown {
  const taken = resolved(template, value);
  if (Array.isArray(taken)) return taken.map((element) => deepResolved(template, element)).filter((element) => element !== undefined);
  if (typeof taken !== 'object' || taken === null || isIntrinsic(taken)) return taken;
  const entries = Object.entries(taken).map(([key, element]) => [key, deepResolved(template, element)] as const);
  return Object.fromEntries(entries.filter(([, element]) => element !== undefined));
}

/** A property type as the spec describes it. */
type SpecType =
  | { type: 'string' | 'number' | 'integer' | 'boolean' | 'json' | 'date-time' | 'null' | 'tag' }
  | { type: 'ref'; reference: unknown }
  | { type: 'array' | 'map'; element: SpecType }
  | { type: 'union'; types: SpecType[] };
type SpecProperties = Record<string, { type: SpecType; required?: boolean }>;

const NUMERIC = /^-?\d+(\.\d+)?$/;
const scalarFits: Record<string, (value: unknown) => boolean> = {
  // CloudFormation turns scalars into the strings a string property needs, and numeric strings into numbers.
  string: (value) => ['string', 'number', 'boolean'].includes(typeof value),
  'date-time': (value) => typeof value === 'string',
  number: (value) => (typeof value === 'number' && Number.isFinite(value)) || (typeof value === 'string' && NUMERIC.test(value)),
  integer: (value) => Number.isInteger(value) || (typeof value === 'string' && /^-?\d+$/.test(value)),
  boolean: (value) => typeof value === 'boolean' || value === 'true' || value === 'false',
  json: (value) => typeof value === 'object' && value !== null,
  null: (value) => value === null,
  tag: (value) => typeof value === 'object' && value !== null && 'Key' in value && 'Value' in value,
};

let loaded: ReturnType<typeof loadAwsServiceSpec> | undefined;

/** The resource specification (loaded once per test file: about a second), and the problems it finds in a resource's properties. */
export async function cloudFormationSpec() {
  loaded ??= loadAwsServiceSpec();
  const db = await loaded;
  const resourceType = (type: string) => {
    const [resource] = db.lookup('resource', 'cloudFormationType', 'equals', type);
    if (!resource) throw new Error(`${type} is not in the CloudFormation spec`);
    return resource;
  };
  const definition = (reference: unknown) => db.get('typeDefinition', reference as never).properties as SpecProperties;

  function typeProblems(path: string, type: SpecType, value: unknown): string[] {
    // A value computed at deploy time (Ref, Fn::GetAtt, Fn::Sub...) cannot be checked here.
    if (isIntrinsic(value)) return [];
    switch (type.type) {
      case 'ref':
        return typeof value === 'object' && value !== null && !Array.isArray(value)
          ? propertyProblems(path, definition(type.reference), value as Record<string, unknown>)
          : [`${path}: ${JSON.stringify(value)} is not an object`];
      case 'array':
        return Array.isArray(value)
          ? value.flatMap((element, i) => typeProblems(`${path}[${i}]`, type.element, element))
          : [`${path}: ${JSON.stringify(value)} is not a list`];
      case 'map':
        return typeof value === 'object' && value !== null && !Array.isArray(value)
          ? Object.entries(value).flatMap(([key, element]) => typeProblems(`${path}.${key}`, type.element, element))
          : [`${path}: ${JSON.stringify(value)} is not a map`];
      case 'union':
        return type.types.some((option) => typeProblems(path, option, value).length === 0)
          ? []
          : [`${path}: ${JSON.stringify(value)} fits none of ${type.types.map((t) => t.type).join(', ')}`];
      default:
        return scalarFits[type.type]!(value) ? [] : [`${path}: ${JSON.stringify(value)} is not ${type.type}`];
    }
  }

  function propertyProblems(path: string, spec: SpecProperties, values: Record<string, unknown>): string[] {
    const unknown = Object.keys(values)
      .filter((name) => !(name in spec))
      .map((name) => `${path}.${name}: no such property`);
    const missing = Object.entries(spec)
      .filter(([name, property]) => property.required && values[name] === undefined)
      .map(([name]) => `${path}.${name}: required`);
    const wrong = Object.entries(values)
      .filter(([name]) => name in spec)
      .flatMap(([name, value]) => typeProblems(`${path}.${name}`, spec[name]!.type, value));
    return [...unknown, ...missing, ...wrong];
  }

  return {
    /** What the spec refuses in a resource's deployed properties: unknown names, missing required ones, values of the wrong type. */
    problems: (template: Template, id: string) =>
      propertyProblems(id, resourceType(template.Resources[id]!.Type).properties as SpecProperties, deployedProperties(template, id)),
    /**
     * What the spec refuses in a value of one of a resource type's property types, e.g. a route's entry in
     * AWS::ApiGatewayV2::Stage's RouteSettings (a JSON map whose values are the type of DefaultRouteSettings).
     */
    typeProblems: (type: string, property: string, value: unknown, path = `${type}.${property}`) =>
      typeProblems(path, (resourceType(type).properties as SpecProperties)[property]!.type, value),
  };
}
