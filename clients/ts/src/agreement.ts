// The agreement test: every email address of clients/emails.json goes to
// the server (POST /auth/signup) and to the sign-up body schemas of
// @hey-api/openapi-ts and orval; every URL of clients/image-urls.json to
// the server (PATCH /me image_url) and to their update body schemas. The
// three verdicts must be the same, except for a value that says why the
// server may refuse what zod accepts: `serverStricter` quotes the spec's
// words, `specGap` says what the spec does not say yet (reported as GAP,
// not as a failure). zod refusing what the server accepts always fails.
// A `serverStricter` quote must stand in that schema's description in
// openapi.yaml (next to the two lists), so that a reworded spec cannot
// leave an excuse behind that the spec no longer gives.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { ZodType } from "zod";
import { zSignUpBody, zUpdateMeBody } from "../gen/hey/zod.gen";
import { SignUpBody, UpdateMeBody } from "../gen/orval/zod/api.zod";
import { CookieJar } from "./lib/jar.js";
import { describe, Steps } from "./lib/steps.js";

interface Case {
  value: string;
  serverStricter?: string;
  specGap?: string;
}

const [baseUrl, emailsFile, urlsFile] = process.argv.slice(2);
if (!baseUrl || !emailsFile || !urlsFile) {
  throw new Error("usage: agreement BASE_URL EMAILS.json IMAGE-URLS.json");
}
const load = (file: string): Case[] => (JSON.parse(readFileSync(file, "utf8")) as { values: Case[] }).values;
const spec = readFileSync(join(dirname(emailsFile), "..", "openapi.yaml"), "utf8");

// quoted checks that `Schema: "words … more words"` quotes the schema's
// entry in components.schemas: each piece between the ellipses appears in
// it, whitespace collapsed and Markdown backticks and YAML's '' dropped.
function quoted(excuse: string): void {
  const m = /^(\w+): "([^"]+)"/.exec(excuse);
  if (!m) {
    throw new Error(`serverStricter must start with Schema: "the spec's words": ${excuse}`);
  }
  const [, schema, words] = m;
  const start = spec.indexOf(`\n    ${schema}:\n`);
  if (start < 0) {
    throw new Error(`openapi.yaml has no schema ${schema}`);
  }
  const next = spec.slice(start + 1).search(/\n    \S/);
  const flat = (t: string) => t.replace(/`/g, "").replace(/''/g, "'").replace(/\s+/g, " ");
  const entry = flat(next < 0 ? spec.slice(start) : spec.slice(start, start + 1 + next));
  for (const piece of words.split("…").map((p) => flat(p).trim()).filter(Boolean)) {
    if (!entry.includes(piece)) {
      throw new Error(`${schema} in openapi.yaml does not say "${piece}" (quoted by: ${excuse})`);
    }
  }
}
const password = "correct horse battery staple";

// server asks meapi: true for accepted, false for a VALIDATION_ERROR of
// the member, an error for any other answer.
async function server(send: () => Promise<Response>, member: string, okStatus: number): Promise<boolean> {
  const r = await send();
  const body = (await r.json()) as { errors?: { code: string; field?: string }[] };
  if (r.status === okStatus) {
    return true;
  }
  const problems = (body.errors ?? []).map((e) => `${e.code} ${e.field ?? ""}`.trim());
  if (r.status === 400 && problems.length === 1 && problems[0] === `VALIDATION_ERROR /${member}`) {
    return false;
  }
  throw new Error(`the server answered ${r.status} ${problems.join(", ")}`);
}

function zod(schema: ZodType, body: unknown): { ok: boolean; why: string } {
  const r = schema.safeParse(body);
  return { ok: r.success, why: r.success ? "" : describe(r.error) };
}

// judge compares the verdicts on one value and says what came of it.
function judge(c: Case, byServer: boolean, hey: { ok: boolean; why: string }, orval: { ok: boolean; why: string }): string {
  const verdict = (ok: boolean) => (ok ? "accepts" : "refuses");
  const all = `the server ${verdict(byServer)}, hey-api's zod ${verdict(hey.ok)}, orval's zod ${verdict(orval.ok)}`;
  const why = [hey.why && `hey-api: ${hey.why}`, orval.why && `orval: ${orval.why}`].filter(Boolean).join("; ");
  const excuse = c.serverStricter ?? c.specGap;
  if (excuse !== undefined) {
    if (byServer || !hey.ok || !orval.ok) {
      throw new Error(`${all}, but it is listed as one that only the server refuses (${excuse})${why ? ": " + why : ""}`);
    }
    if (c.specGap !== undefined) {
      gaps.push(JSON.stringify(c.value));
      return `GAP: the server refuses it and zod accepts it, and openapi.yaml does not say why: ${c.specGap}`;
    }
    quoted(c.serverStricter!);
    return `only the server refuses it, as openapi.yaml says: ${c.serverStricter}`;
  }
  if (byServer !== hey.ok || byServer !== orval.ok) {
    throw new Error(`${all}${why ? ": " + why : ""}`);
  }
  return byServer ? "all three accept it" : "all three refuse it";
}

const s = new Steps();
const gaps: string[] = [];

for (const c of load(emailsFile)) {
  await s.step(`email ${JSON.stringify(c.value)}`, async () => {
    const body = { email: c.value, password };
    // A fresh browser each time: no cookie, so no limit of accounts per browser.
    const byServer = await server(
      () => fetch(`${baseUrl}/auth/signup`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) }),
      "email",
      201,
    );
    return judge(c, byServer, zod(zSignUpBody, body), zod(SignUpBody, body));
  });
}

const jar = new CookieJar();
await s.step("sign up the account whose image_url is set", async () => {
  const r = await jar.fetch(`${baseUrl}/auth/signup`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email: "avatar@example.com", password }),
  });
  if (r.status !== 201 || !jar.token) {
    throw new Error(`sign-up answered ${r.status}`);
  }
});
for (const c of load(urlsFile)) {
  await s.step(`image_url ${JSON.stringify(c.value)}`, async () => {
    const body = { image_url: c.value };
    const byServer = await server(
      () => jar.fetch(`${baseUrl}/me`, { method: "PATCH", headers: { "Content-Type": "application/merge-patch+json" }, body: JSON.stringify(body) }),
      "image_url",
      200,
    );
    return judge(c, byServer, zod(zUpdateMeBody, body), zod(UpdateMeBody, body));
  });
}

if (gaps.length > 0) {
  console.log(`${gaps.length} spec gap${gaps.length === 1 ? "" : "s"} (the server is stricter than openapi.yaml says; not counted as failures): ${gaps.join(", ")}`);
}
s.finish();
