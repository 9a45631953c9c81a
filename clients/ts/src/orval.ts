// orval: its fetch client, with zod schemas as the models and response
// validation on (override.fetch.runtimeValidation), and the per-operation
// zod schemas of its zod client, with which each request body is checked
// here before it is sent (the fetch client checks none). forceSuccessResponse:
// a declared error is thrown, with its body in .info, which is parsed here
// with the generated ErrorEnvelope.
import type { ZodType } from "zod";
import { getMe, getSession, signIn, signOut, signUp, switchSignin, updateMe } from "../gen/orval/fetch/api";
import { ErrorEnvelope } from "../gen/orval/fetch/model";
import type { UpdateMeRequest } from "../gen/orval/fetch/model";
import { SignInBody, SignOutBody, SignUpBody, SwitchSigninBody, UpdateMeBody } from "../gen/orval/zod/api.zod";
import { CookieJar } from "./lib/jar.js";
import { server } from "./lib/orval-server.js";
import { run, type Answer, type Driver } from "./lib/scenario.js";
import { describe } from "./lib/steps.js";

const baseUrl = process.argv[2];
if (!baseUrl) {
  throw new Error("usage: orval BASE_URL");
}
server.baseUrl = baseUrl;
const jar = new CookieJar();

// call checks body with its generated schema, makes the call and turns its
// result, or the declared error it throws, into an Answer.
async function call<T>(
  schema: ZodType | undefined,
  body: unknown,
  send: () => Promise<{ data: T; status: number; headers: Headers }>,
): Promise<Answer<T>> {
  const checked = schema?.safeParse(body);
  let answer: Answer<T>;
  try {
    const r = await send();
    answer = { status: r.status, data: r.data, etag: r.headers.get("ETag") };
  } catch (err) {
    const declared = err as { status?: number; info?: unknown };
    if (typeof declared.status !== "number" || declared.info === undefined) {
      throw err; // not an answer: a failed validation of a success body, or no connection
    }
    answer = { status: declared.status, error: ErrorEnvelope.parse(declared.info) };
  }
  if (checked && !checked.success) {
    answer.refusedBeforeSending = describe(checked.error);
  }
  return answer;
}

const f = jar.fetch;
const driver: Driver = {
  signUp: (body) => call(SignUpBody, body, () => signUp(body, undefined, f)),
  getMe: () => call(undefined, undefined, () => getMe(undefined, f)),
  updateMe: (body, ifMatch) =>
    call(UpdateMeBody, body, () => updateMe(body, { headers: ifMatch ? { "If-Match": ifMatch } : {} }, f)),
  // The body's type has only the four writable members: say the others past it.
  updateMeRaw: (body) => call(UpdateMeBody, body, () => updateMe(body as UpdateMeRequest, undefined, f)),
  signInByUsername: (username, password) => {
    const body = { strategy: "plain_username" as const, username, password };
    return call(SignInBody, body, () => signIn(body, undefined, f));
  },
  getSession: () => call(undefined, undefined, () => getSession(undefined, f)),
  switchSignin: (signin_id) => call(SwitchSigninBody, { signin_id }, () => switchSignin({ signin_id }, undefined, f)),
  signOut: (all) => call(SignOutBody, { all }, () => signOut({ all }, undefined, f)),
  hasSession: () => jar.token !== undefined,
};

await run(driver);
