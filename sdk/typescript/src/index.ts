// A typed client of the meapi API. The types come from openapi.yaml
// (`npm run generate` writes src/schema.d.ts); openapi-fetch makes the calls
// and types each answer by its status.
import createClient, { type Client, type ClientOptions, type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema.js";

export type { components, paths };
export type User = components["schemas"]["User"];
export type ClientSession = components["schemas"]["ClientSession"];
export type ErrorEnvelope = components["schemas"]["ErrorEnvelope"];
export type ErrorCode = components["schemas"]["ErrorCode"];
export type MeapiClient = Client<paths>;

export interface MeapiClientOptions {
  /**
   * Where to keep the session cookie. In a browser leave it unset: the
   * browser keeps the HttpOnly `__session` cookie itself (the client sends
   * `credentials: "include"`). In Node, which has no cookie store, pass a
   * SessionJar.
   */
  jar?: SessionJar;
  /** The fetch to use (default: globalThis.fetch). */
  fetch?: ClientOptions["fetch"];
}

/** createMeapiClient returns a client of the API served at baseUrl. */
export function createMeapiClient(baseUrl: string, options: MeapiClientOptions = {}): MeapiClient {
  const client = createClient<paths>({ baseUrl, credentials: "include", fetch: options.fetch });
  if (options.jar) {
    client.use(options.jar.middleware);
  }
  return client;
}

/**
 * SessionJar keeps the `__session` cookie for a client that has no cookie
 * store of its own: it sends the token it holds, and keeps the one each
 * response sets (every sign-in issues a new one; sign-out clears it).
 */
export class SessionJar {
  token: string | undefined;

  readonly middleware: Middleware = {
    onRequest: ({ request }) => {
      if (this.token) {
        request.headers.set("Cookie", `__session=${this.token}`);
      }
      return request;
    },
    onResponse: ({ response }) => {
      for (const cookie of response.headers.getSetCookie()) {
        const m = /^__session=([^;]*)/.exec(cookie);
        if (m) {
          this.token = m[1] || undefined;
        }
      }
      return response;
    },
  };
}
