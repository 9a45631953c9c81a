// orval 8.38.0: SPEC=<openapi.yaml> OUT=<dir> orval --config orval.config.mjs
// Node 20 needs --import ./node20-polyfill.mjs (orval calls Map.groupBy).
//
// Two projects: `zod`, the per-operation zod schemas (request bodies, 2xx
// answers), and `fetch`, the fetch client, whose models are zod schemas that
// it parses every 2xx answer with (runtimeValidation). additionalProperties:
// false is said only with override.zod.strict (z.strictObject); without it
// orval's z.object lets unknown members through.
import { defineConfig } from 'orval';

const spec = process.env.SPEC;
const out = process.env.OUT;

// orval 8.38.0 with `schemas: { type: 'zod' }` writes no model for a
// response of components.responses, yet the client imports one from the
// models (`BadRequestResponse`, …: TS2305, "has no exported member"). This
// puts each such response in place of its $ref, which is what the $ref means;
// the client is then typed by the response's own schema.
function inlineResponses(doc) {
  const responses = doc.components?.responses ?? {};
  for (const item of Object.values(doc.paths ?? {})) {
    for (const op of Object.values(item)) {
      for (const [status, r] of Object.entries(op?.responses ?? {})) {
        const name = r.$ref?.match(/^#\/components\/responses\/(.+)$/)?.[1];
        if (name && responses[name]) {
          op.responses[status] = structuredClone(responses[name]);
        }
      }
    }
  }
  delete doc.components?.responses;
  return doc;
}

const strict = { zod: { strict: { body: true, response: true } } };

export default defineConfig({
  zod: {
    input: { target: spec },
    output: { mode: 'single', client: 'zod', target: `${out}/zod/api.zod.ts`, override: strict },
  },
  fetch: {
    input: { target: spec, override: { transformer: inlineResponses } },
    output: {
      mode: 'single',
      client: 'fetch',
      target: `${out}/fetch/api.ts`,
      schemas: { type: 'zod', path: `${out}/fetch/model` },
      // The server's address is known only when the scenario runs.
      baseUrl: { runtime: 'server.baseUrl', imports: [{ name: 'server', importPath: '../../../src/lib/orval-server' }] },
      override: {
        ...strict,
        fetch: {
          runtimeValidation: true,
          // every call takes a fetch: the scenario's keeps the session cookie
          useRuntimeFetcher: true,
          includeHttpResponseReturnType: true,
          // a declared error is thrown with its body (runtimeValidation would
          // otherwise parse it with the 2xx schema and throw a ZodError)
          forceSuccessResponse: true,
        },
      },
    },
  },
});
