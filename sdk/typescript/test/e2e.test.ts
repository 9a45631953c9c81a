// Drives a real meapi, built from this repository and started on a free
// port with a fresh SQLite file, through the typed client.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createMeapiClient, SessionJar } from "../src/index.js";

// dist/test → the repository's root.
const repo = fileURLToPath(new URL("../../../../", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "meapi-sdk-"));
let server: ChildProcess | undefined;
let baseUrl = "";

before(async () => {
  const bin = join(dir, "meapi");
  execFileSync("go", ["build", "-o", bin, "./cmd/meapi"], { cwd: repo, stdio: "inherit", env: { ...process.env, CGO_ENABLED: "0" } });
  const proc = spawn(bin, ["serve", "--addr", "127.0.0.1:0", "--db", join(dir, "meapi.db")], { stdio: ["ignore", "ignore", "pipe"] });
  server = proc;
  baseUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("meapi did not start within 30 s")), 30_000);
    proc.on("exit", (code) => reject(new Error(`meapi exited with ${code}`)));
    createInterface({ input: proc.stderr! }).on("line", (line) => {
      const entry = JSON.parse(line) as { msg?: string; addr?: string };
      if (entry.msg === "serving") {
        clearTimeout(timer);
        resolve(`http://${entry.addr}`);
      }
    });
  });
});

after(() => {
  server?.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
});

test("sign up, read and update the profile with the cookie", async () => {
  const jar = new SessionJar();
  const client = createMeapiClient(baseUrl, { jar });

  const signup = await client.POST("/auth/signup", {
    body: { email: "ada@example.com", password: "correct horse battery staple", first_name: "Ada" },
  });
  assert.equal(signup.response.status, 201);
  assert.ok(signup.data, "a 201 has typed data");
  assert.equal(signup.data.data.first_name, "Ada");
  assert.ok(jar.token, "the sign-up set the session cookie");
  assert.deepEqual(signup.data.session.signin_attempts, []);

  const me = await client.GET("/me");
  assert.equal(me.response.status, 200);
  assert.equal(me.data?.data.id, signup.data.data.id);
  const etag = me.response.headers.get("ETag");
  assert.ok(etag);

  const patched = await client.PATCH("/me", {
    params: { header: { "If-Match": etag } },
    body: { last_name: "Lovelace", first_name: null },
  });
  assert.equal(patched.response.status, 200);
  assert.equal(patched.data?.data.last_name, "Lovelace");
  assert.equal(patched.data?.data.first_name, null);
  assert.notEqual(patched.response.headers.get("ETag"), etag);
});

test("a refused PATCH comes back as a typed error", async () => {
  const jar = new SessionJar();
  const client = createMeapiClient(baseUrl, { jar });
  await client.POST("/auth/signup", { body: { email: "grace@example.com", password: "another long password" } });

  const { data, error, response } = await client.PATCH("/me", { body: { username: "x", image_url: "http://example.com/a.png" } });
  assert.equal(response.status, 400);
  assert.equal(data, undefined);
  assert.ok(error);
  // error is typed as the ErrorEnvelope: its codes and fields are checked names.
  const problems = error.errors.map((e) => `${e.code} ${e.field ?? ""}`);
  assert.deepEqual(problems, ["VALIDATION_ERROR /image_url", "VALIDATION_ERROR /username"]);

  const anonymous = await createMeapiClient(baseUrl).GET("/me");
  assert.equal(anonymous.response.status, 401);
  assert.equal(anonymous.error?.errors[0]?.code, "NOT_AUTHENTICATED");
});

test("sign out clears the jar", async () => {
  const jar = new SessionJar();
  const client = createMeapiClient(baseUrl, { jar });
  await client.POST("/auth/signup", { body: { email: "hedy@example.com", password: "frequency hopping" } });
  const out = await client.POST("/session/sign-out", { body: { all: true } });
  assert.equal(out.response.status, 200);
  assert.equal(out.data?.data.user, null);
  assert.equal(jar.token, undefined);
  const signin = await client.POST("/auth/signin", {
    body: { strategy: "plain_email", email: "HEDY@example.com", password: "frequency hopping" },
  });
  assert.equal(signin.response.status, 200);
  assert.equal(signin.data?.data.email, "hedy@example.com");
});
