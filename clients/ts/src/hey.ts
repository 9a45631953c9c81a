// @hey-api/openapi-ts with its fetch client and zod: the SDK validates every
// request before it is sent and every success body after it is read
// (validator: true). Error bodies come back unvalidated: they are parsed
// here with the generated zErrorEnvelope.
import { client } from "../gen/hey/client.gen";
import { getMe, getSession, signIn, signOut, signUp, switchSignin, updateMe } from "../gen/hey/sdk.gen";
import type { UpdateMeData, UserEnvelope } from "../gen/hey/types.gen";
import { zErrorEnvelope } from "../gen/hey/zod.gen";
import { CookieJar } from "./lib/jar.js";
import { run, type Answer, type Driver } from "./lib/scenario.js";
import { describe } from "./lib/steps.js";

const baseUrl = process.argv[2];
if (!baseUrl) {
  throw new Error("usage: hey BASE_URL");
}
const jar = new CookieJar();
// The generated client sends the cookie itself (the security scheme is an
// apiKey in the cookie __session); the jar only remembers what was set.
client.setConfig({ baseUrl, auth: () => jar.token });
client.interceptors.response.use((response) => {
  jar.keep(response);
  return response;
});

type Result<T> = { data?: T; error?: unknown; response?: Response };

// answer turns the SDK's { data, error, response } into an Answer.
function answer<T>(r: Result<T>): Answer<T> {
  if (!r.response) {
    throw new Error(`not sent: ${describe(r.error)}`);
  }
  const a: Answer<T> = { status: r.response.status, etag: r.response.headers.get("ETag") };
  if (r.response.ok) {
    if (r.data === undefined) {
      // The response validator refused the body.
      throw new Error(`the answer failed validation: ${describe(r.error)}`);
    }
    a.data = r.data;
  } else {
    a.error = zErrorEnvelope.parse(r.error);
  }
  return a;
}

// updateMeSent sends a patch; when zod refuses it before it leaves, it is
// sent again without the request validator, to hear the server's verdict.
async function updateMeSent(body: UpdateMeData["body"], ifMatch?: string): Promise<Answer<UserEnvelope>> {
  const headers = ifMatch ? { "If-Match": ifMatch } : undefined;
  const first = await updateMe({ body, headers });
  if (first.response) {
    return answer(first);
  }
  const again = answer(await updateMe({ body, headers, requestValidator: undefined }));
  again.refusedBeforeSending = describe(first.error);
  return again;
}

const driver: Driver = {
  signUp: async (body) => answer(await signUp({ body })),
  getMe: async () => answer(await getMe()),
  updateMe: (body, ifMatch) => updateMeSent(body, ifMatch),
  // The body's type has only the four writable members: say the others past
  // it. zod's z.object lets an unknown member through (it would strip it
  // from a parse's output, which the SDK does not send).
  updateMeRaw: async (body) => {
    const a = await updateMeSent(body as UpdateMeData["body"]);
    if (!a.refusedBeforeSending) {
      a.notes = ["zod let it through"];
    }
    return a;
  },
  signInByUsername: async (username, password) =>
    answer(await signIn({ body: { strategy: "plain_username", username, password } })),
  getSession: async () => answer(await getSession()),
  switchSignin: async (signin_id) => answer(await switchSignin({ body: { signin_id } })),
  signOut: async (all) => answer(await signOut({ body: { all } })),
  hasSession: () => jar.token !== undefined,
};

await run(driver);
