/**
 * The Standard Schema v1 interface (https://standardschema.dev), typed here so
 * that Halyard depends on no schema library: zod, valibot and arktype values
 * all carry `~standard` with `version: 1`, a `vendor` and `validate`.
 */

export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': StandardSchemaV1.Props<Input, Output>;
}

export declare namespace StandardSchemaV1 {
  interface Props<Input = unknown, Output = Input> {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => Result<Output> | Promise<Result<Output>>;
    readonly types?: Types<Input, Output> | undefined;
  }
  type Result<Output> = SuccessResult<Output> | FailureResult;
  interface SuccessResult<Output> {
    readonly value: Output;
    readonly issues?: undefined;
  }
  interface FailureResult {
    readonly issues: ReadonlyArray<Issue>;
  }
  interface Issue {
    readonly message: string;
    readonly path?: ReadonlyArray<PropertyKey | PathSegment> | undefined;
  }
  interface PathSegment {
    readonly key: PropertyKey;
  }
  interface Types<Input = unknown, Output = Input> {
    readonly input: Input;
    readonly output: Output;
  }
  type InferInput<S extends StandardSchemaV1> = NonNullable<S['~standard']['types']>['input'];
  type InferOutput<S extends StandardSchemaV1> = NonNullable<S['~standard']['types']>['output'];
}

/** A value that carries a Standard Schema v1 `~standard` block. */
export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false;
  const s = (value as { '~standard'?: unknown })['~standard'];
  return (
    typeof s === 'object' &&
    s !== null &&
    (s as { version?: unknown }).version === 1 &&
    typeof (s as { validate?: unknown }).validate === 'function'
  );
}

/** An issue's path as a dotted string (`limit`, `accounts.0.iban`); `(root)` when it has none. */
export function issuePath(issue: StandardSchemaV1.Issue): string {
  if (issue.path === undefined || issue.path.length === 0) return '(root)';
  return issue.path.map((seg) => String(typeof seg === 'object' && seg !== null ? seg.key : seg)).join('.');
}
