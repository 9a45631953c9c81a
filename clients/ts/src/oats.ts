// openapi-typescript + openapi-fetch: the committed SDK in sdk/typescript,
// as it is, with its SessionJar. openapi-fetch types each answer by its
// status and validates nothing at run time.
import { createMeapiClient, SessionJar } from "../../../sdk/typescript/src/index.js";
import { run, type Answer, type Driver } from "./lib/scenario.js";

const baseUrl = process.argv[2];
if (!baseUrl) {
  throw new Error("usage: oats BASE_URL");
}
const jar = new SessionJar();
const client = createMeapiClient(baseUrl, { jar });

// answer turns openapi-fetch's { data, error, response } into an Answer.
function answer<T, E>(r: { data?: T; error?: E; response: Response }): Answer<T> {
  return {
    status: r.response.status,
    data: r.data,
    error: r.error as Answer<T>["error"],
    etag: r.response.headers.get("ETag"),
  };
}

const driver: Driver = {
  signUp: async (body) => answer(await client.POST("/auth/signup", { body })),
  getMe: async () => answer(await client.GET("/me")),
  updateMe: async (body, ifMatch) =>
    answer(await client.PATCH("/me", { body, params: { header: ifMatch ? { "If-Match": ifMatch } : {} } })),
  // The body's type has only the four writable members: say the others past it.
  updateMeRaw: async (body) => answer(await client.PATCH("/me", { body: body as never })),
  signInByUsername: async (username, password) =>
    answer(await client.POST("/auth/signin", { body: { strategy: "plain_username", username, password } })),
  getSession: async () => answer(await client.GET("/session")),
  switchSignin: async (signin_id) => answer(await client.POST("/session/switch-sign-in", { body: { signin_id } })),
  // openapi-typescript makes `all` required: it has a default (false), which v7 reads as "always there".
  signOut: async (all) => answer(await client.POST("/session/sign-out", { body: { all } })),
  hasSession: () => jar.token !== undefined,
};

await run(driver);
