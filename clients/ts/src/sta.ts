// swagger-typescript-api: one generated class, Api, over fetch. It types each
// answer (data for 2xx, error for the rest, which it throws) and validates
// nothing at run time. The session cookie goes out through its
// securityWorker, for every operation with a security requirement.
import { Api, type HttpResponse, type UpdateMeRequest } from "../gen/sta/Api";
import { CookieJar } from "./lib/jar.js";
import { run, type Answer, type Driver, type ErrorEnvelopeLike } from "./lib/scenario.js";

const baseUrl = process.argv[2];
if (!baseUrl) {
  throw new Error("usage: sta BASE_URL");
}
const jar = new CookieJar();
const api = new Api<string>({
  baseUrl,
  securityWorker: (token) => (token ? { headers: { Cookie: `__session=${token}` } } : {}),
});

// call makes one call and turns its result, or the HttpResponse it throws
// for a status other than 2xx, into an Answer.
async function call<T>(send: () => Promise<HttpResponse<T, ErrorEnvelopeLike>>): Promise<Answer<T>> {
  let r: HttpResponse<T, ErrorEnvelopeLike>;
  try {
    r = await send();
  } catch (err) {
    if (!(err instanceof Response)) {
      throw err;
    }
    r = err as HttpResponse<T, ErrorEnvelopeLike>;
  }
  jar.keep(r);
  api.setSecurityData(jar.token ?? null);
  return r.ok
    ? { status: r.status, data: r.data, etag: r.headers.get("ETag") }
    : { status: r.status, error: r.error };
}

const driver: Driver = {
  signUp: (body) => call(() => api.auth.signUp(body)),
  getMe: () => call(() => api.me.getMe()),
  // The generated updateMe has no parameter for the If-Match header: it goes
  // in the untyped request parameters.
  updateMe: (body, ifMatch) => call(() => api.me.updateMe(body, { headers: ifMatch ? { "If-Match": ifMatch } : {} })),
  // The body's type has only the four writable members: say the others past it.
  updateMeRaw: (body) => call(() => api.me.updateMe(body as UpdateMeRequest)),
  signInByUsername: (username, password) =>
    call(() => api.auth.signIn({ strategy: "plain_username", username, password })),
  getSession: () => call(() => api.session.getSession()),
  switchSignin: (signin_id) => call(() => api.session.switchSignin({ signin_id })),
  signOut: (all) => call(() => api.session.signOut({ all })),
  hasSession: () => jar.token !== undefined,
};

await run(driver);
