/**
 * The schema's validate function. In the bundles (dist/*.js) esbuild.config.mjs replaces this module with
 * one of the same shape whose validator was generated at build time (ajv standalone code), so the CLI and
 * the extension load a config without compiling the schema and without ajv's compiler. Run from sources
 * (`tsx`, the tests) it compiles the schema once, here.
 */
import type { ValidateFunction } from 'ajv';
import { createSchemaValidator } from './schemaCompile';

let cached: ValidateFunction | undefined;

/** The compiled schema, compiled once. */
export function schemaValidator(): ValidateFunction {
  cached ??= createSchemaValidator();
  return cached;
}
