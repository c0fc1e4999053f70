/**
 * Compiles the shipped schema with ajv. The bundles never run this: the build (esbuild.config.mjs) turns
 * the same validator into plain code with ajv's standalone generation, so that loading a config compiles
 * nothing. Sources run from `tsx` (the tests) compile it here, once, through `schemaValidator.ts`.
 */
import Ajv, { type Options, type ValidateFunction } from 'ajv';
import standaloneCode from 'ajv/dist/standalone';
import { EDITOR_SCHEMA_KEYWORDS, inlinedSchema } from './schema';

const AJV_OPTIONS: Options = {
  allErrors: true,
  verbose: true,
  strict: true,
  // These checks flag idioms the editor schema needs (`oneOf` of `required`, tuples with `additionalItems`).
  strictTypes: false,
  strictTuples: false,
  strictRequired: false,
  logger: false,
};

/** The inlined schema compiled by an ajv made with `extra` options on top of {@link AJV_OPTIONS}. */
function compile(extra: Options): { ajv: Ajv; validate: ValidateFunction } {
  const ajv = new Ajv({ ...AJV_OPTIONS, ...extra });
  ajv.addVocabulary([...EDITOR_SCHEMA_KEYWORDS]);
  // `$ref`s are inlined first so that every ajv `schemaPath` is a path from the root; the error mapping
  // (`schemaProblems.ts`) relies on that.
  return { ajv, validate: ajv.compile(inlinedSchema()) };
}

/** Compiles the shipped schema for ajv, at run time. */
export function createSchemaValidator(): ValidateFunction {
  return compile({}).validate;
}

/**
 * The same validator as {@link createSchemaValidator}, as the source of a CommonJS module whose
 * `module.exports` is the validate function (ajv's standalone code; it requires `ajv/dist/runtime/*`).
 */
export function standaloneSchemaValidatorCode(): string {
  const { ajv, validate } = compile({ code: { source: true } });
  return standaloneCode(ajv, validate);
}
