import { Ajv, type ErrorObject, type JSONSchemaType, type ValidateFunction } from "ajv";
import { DomainError, type FieldError } from "../../domain/errors.js";

const bodies = new Ajv({ allErrors: true, coerceTypes: false, strict: true, allowUnionTypes: true });
// strictRequired off: "not both after and before" names properties defined one level up.
const queries = new Ajv({ allErrors: true, coerceTypes: true, strict: true, strictRequired: false, allowUnionTypes: true });

export type Validator<T> = (value: unknown) => T;

/** Compiles once at startup; the returned function throws validation_failed with every failing field. */
export function bodyValidator<T>(schema: JSONSchemaType<T>): Validator<T> {
  return wrap(bodies.compile(schema));
}

export function queryValidator<T>(schema: JSONSchemaType<T>): Validator<T> {
  return wrap(queries.compile(schema));
}

function wrap<T>(validate: ValidateFunction<T>): Validator<T> {
  return (value) => {
    if (validate(value)) return value;
    throw new DomainError("validation_failed", "the request is not valid", (validate.errors ?? []).map(fieldError));
  };
}

function fieldError(e: ErrorObject): FieldError {
  const missing = e.keyword === "required" ? (e.params as { missingProperty: string }).missingProperty : null;
  const field = missing ?? (e.instancePath.replace(/^\//, "").replace(/\//g, ".") || "(body)");
  if (e.keyword === "not") return { field: "after,before", message: "use either after or before, not both" };
  if (e.keyword === "pattern") return { field, message: (e.params as { pattern: string }).pattern === "\\S" ? "must not be blank" : "must be an application token" };
  return { field, message: e.message ?? "is invalid" };
}
