// The scenario every TypeScript client goes through against its own live
// meapi, with the same steps under the same names as the Go clients'
// (clients/oapi-codegen/scenario.go). A client takes part through a Driver:
// a thin adapter that makes each call with the generated code, lets it
// decode (and, where the generator can, validate) the answer, and hands
// back what came of it.
import { check, equal, Steps } from "./steps.js";

export interface SigninLike {
  id: string;
  user_id: string;
}

export interface SessionLike {
  signins: SigninLike[];
  active_signin: SigninLike | null;
}

export interface UserLike {
  id: string;
  email: string;
  first_name: string | null;
  last_name: string | null;
  username: string | null;
  image_url: string | null;
}

export interface UserEnvelopeLike {
  status: number;
  data: UserLike;
  session: SessionLike;
}

export interface SessionEnvelopeLike {
  status: number;
  data: { user: UserLike | null; users: UserLike[] };
  session: SessionLike;
}

export interface ErrorEnvelopeLike {
  status: number;
  message: string;
  errors: { code: string; field?: string }[];
  session: SessionLike;
}

/** Answer is what came of one call: the decoded success or error body, and what the client did on its own. */
export interface Answer<T> {
  status: number;
  data?: T;
  error?: ErrorEnvelopeLike;
  /** the ETag response header, for GET and PATCH /me */
  etag?: string | null;
  /** what the generated client did by itself, worth a mention */
  notes?: string[];
  /**
   * why the client's own validation refused the body before sending it (the
   * driver then sent it anyway, to hear the server): fine for a body the
   * server refuses too, a failure for one it accepts
   */
  refusedBeforeSending?: string;
}

export interface Patch {
  first_name?: string | null;
  last_name?: string | null;
  username?: string | null;
  image_url?: string | null;
}

export interface SignUp {
  email: string;
  password: string;
  first_name?: string;
  username?: string;
}

export interface Driver {
  signUp(body: SignUp): Promise<Answer<UserEnvelopeLike>>;
  getMe(): Promise<Answer<UserEnvelopeLike>>;
  /** updateMe sends a patch the generated types can say. */
  updateMe(body: Patch, ifMatch?: string): Promise<Answer<UserEnvelopeLike>>;
  /** updateMeRaw sends a body the generated types cannot say (an unknown or read-only member). */
  updateMeRaw(body: Record<string, unknown>): Promise<Answer<UserEnvelopeLike>>;
  signInByUsername(username: string, password: string): Promise<Answer<UserEnvelopeLike>>;
  getSession(): Promise<Answer<SessionEnvelopeLike>>;
  switchSignin(signinId: string): Promise<Answer<UserEnvelopeLike>>;
  signOut(all: boolean): Promise<Answer<SessionEnvelopeLike>>;
  /** hasSession reports whether the client holds a session cookie. */
  hasSession(): boolean;
}

export const ada = { email: "ada@example.com", password: "correct horse battery staple", first_name: "Ada" };
export const grace = { email: "grace@example.com", password: "another long password", username: "grace" };
export const profile = {
  first_name: "Augusta Ada",
  last_name: "Lovelace",
  username: "ada",
  image_url: "https://images.example.com/ada.png",
};
const etagPattern = /^"[!#-~]+"$/;

function ok<T>(a: Answer<T>, status: number): T {
  if (a.refusedBeforeSending) {
    throw new Error(`the client refused a body that the server accepts: ${a.refusedBeforeSending}`);
  }
  if (a.status !== status || a.data === undefined) {
    const why = a.error ? a.error.errors.map((e) => `${e.code} ${e.field ?? ""}`.trim()).join(", ") : "no decoded body";
    throw new Error(`status ${a.status} (${why}), want ${status}`);
  }
  return a.data;
}

function refused(a: Answer<unknown>, status: number, problems: string[]): string {
  check(a.status === status, `status ${a.status}, want ${status}`);
  check(a.error, "no decoded error envelope");
  equal(a.error.status, status, "the envelope's status");
  equal(
    a.error.errors.map((e) => `${e.code}${e.field ? " " + e.field : ""}`),
    problems,
    "errors",
  );
  const notes = a.refusedBeforeSending ? [`the client refused it too (${a.refusedBeforeSending})`] : [];
  return [problems.join(", "), ...notes, ...(a.notes ?? [])].join("; ");
}

function noted(a: Answer<unknown>, text: string): string {
  return [text, ...(a.notes ?? [])].join("; ");
}

/** run drives d through the scenario and prints one line per step. */
export async function run(d: Driver): Promise<void> {
  const s = new Steps();
  let adaId = "";
  let graceId = "";
  let adaSignin = "";
  let firstETag = "";

  await s.step("sign up ada", async () => {
    const a = await d.signUp(ada);
    const env = ok(a, 201);
    adaId = env.data.id;
    equal(env.data.email, ada.email, "email");
    equal(env.data.first_name, ada.first_name, "first_name");
    equal(env.session.active_signin?.user_id, env.data.id, "the active sign-in's user");
    check(d.hasSession(), "no session cookie kept");
    return noted(a, env.data.id);
  });

  await s.step("GET /me reads the ETag", async () => {
    const a = await d.getMe();
    const env = ok(a, 200);
    firstETag = a.etag ?? "";
    equal(env.data.id, adaId, "id");
    check(a.etag && etagPattern.test(a.etag), `ETag ${JSON.stringify(a.etag)}`);
    return noted(a, `ETag ${a.etag}`);
  });

  await s.step("PATCH /me sets first_name, last_name, username, image_url", async () => {
    const a = await d.updateMe(profile, firstETag);
    const env = ok(a, 200);
    for (const [k, v] of Object.entries(profile)) {
      equal(env.data[k as keyof typeof profile], v, k);
    }
    check(a.etag && a.etag !== firstETag, `the ETag did not move: ${a.etag}`);
    return noted(a, `ETag ${a.etag}`);
  });

  await s.step("PATCH /me clears image_url with null", async () => {
    const a = await d.updateMe({ image_url: null });
    const env = ok(a, 200);
    equal(env.data.image_url, null, "image_url");
    equal(env.data.first_name, profile.first_name, "first_name");
    return noted(a, "image_url null, the rest kept");
  });

  await s.step("PATCH refused, unknown member nickname", async () =>
    refused(await d.updateMeRaw({ nickname: "Countess" }), 400, ["UNKNOWN_FIELD /nickname"]),
  );

  await s.step("PATCH refused, read-only member email", async () =>
    refused(await d.updateMeRaw({ email: "eve@example.com" }), 400, ["READ_ONLY_FIELD /email"]),
  );

  await s.step("PATCH refused, first_name of 101 characters", async () =>
    refused(await d.updateMe({ first_name: "x".repeat(101) }), 400, ["VALIDATION_ERROR /first_name"]),
  );

  await s.step("PATCH with a stale If-Match", async () =>
    refused(await d.updateMe({ first_name: "Augusta" }, firstETag), 412, ["PRECONDITION_FAILED"]),
  );

  await s.step("sign up grace in the same cookie jar", async () => {
    const a = await d.signUp({ email: grace.email, password: grace.password, username: grace.username });
    const env = ok(a, 201);
    graceId = env.data.id;
    equal(env.session.signins.map((x) => x.user_id), [adaId, graceId], "the sign-ins' users");
    equal(env.session.active_signin?.user_id, graceId, "the active sign-in's user");
    return noted(a, "2 sign-ins, grace active");
  });

  await s.step("sign out grace", async () => {
    const a = await d.signOut(false);
    const env = ok(a, 200);
    equal(env.data.user?.id, adaId, "the user now active");
    equal(env.session.signins.map((x) => x.user_id), [adaId], "the sign-ins' users");
    return noted(a, "ada active again");
  });

  await s.step("sign grace back in by username", async () => {
    const a = await d.signInByUsername("Grace", grace.password);
    const env = ok(a, 200);
    equal(env.data.id, graceId, "id");
    equal(env.data.username, grace.username, "username");
    equal(env.session.signins.length, 2, "sign-ins");
    return noted(a, "as Grace, any letter case");
  });

  await s.step("GET /session lists both sign-ins and users", async () => {
    const a = await d.getSession();
    const env = ok(a, 200);
    const signins = env.session.signins;
    adaSignin = signins.find((x) => x.user_id === adaId)?.id ?? "";
    equal(signins.length, 2, "sign-ins");
    equal(env.data.users.map((u) => u.id), signins.map((x) => x.user_id), "data.users, in the order of the sign-ins");
    equal([...env.data.users.map((u) => u.id)].sort(), [adaId, graceId].sort(), "data.users");
    equal(env.data.user?.id, graceId, "data.user");
    return noted(a, env.data.users.map((u) => u.username).join(", "));
  });

  await s.step("switch to ada's sign-in", async () => {
    const a = await d.switchSignin(adaSignin);
    const env = ok(a, 200);
    equal(env.data.id, adaId, "id");
    equal(env.session.active_signin?.id, adaSignin, "the active sign-in");
    return noted(a, adaSignin);
  });

  await s.step("sign out the active sign-in", async () => {
    const a = await d.signOut(false);
    const env = ok(a, 200);
    equal(env.data.user?.id, graceId, "the user now active");
    equal(env.session.signins.map((x) => x.user_id), [graceId], "the sign-ins' users");
    check(d.hasSession(), "the cookie went with a sign-in still left");
    return noted(a, "grace left");
  });

  await s.step("sign out all", async () => {
    const a = await d.signOut(true);
    const env = ok(a, 200);
    equal(env.data.user, null, "data.user");
    equal(env.data.users, [], "data.users");
    equal(env.session.signins, [], "sign-ins");
    check(!d.hasSession(), "the session cookie was not cleared");
    return noted(a, "cookie cleared");
  });

  await s.step("GET /me after signing out", async () =>
    refused(await d.getMe(), 401, ["NOT_AUTHENTICATED"]),
  );

  s.finish();
}
