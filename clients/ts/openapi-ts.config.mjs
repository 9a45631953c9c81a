// @hey-api/openapi-ts 0.99.0: SPEC=<openapi.yaml> OUT=<dir> openapi-ts -f openapi-ts.config.mjs
// The fetch client, its types, the SDK and zod schemas; the SDK validates
// each request before sending it and each 2xx body after reading it.
import { defineConfig } from '@hey-api/openapi-ts';

export default defineConfig({
  input: process.env.SPEC,
  output: process.env.OUT,
  plugins: [
    '@hey-api/client-fetch',
    '@hey-api/typescript',
    { name: '@hey-api/sdk', validator: { request: 'zod', response: 'zod' } },
    'zod',
  ],
});
