// Steps runs named steps in order and prints one line for each: "ok   NAME",
// "ok   NAME: NOTE" or "FAIL NAME: WHY", then "N passed, N failed". A step
// that throws fails alone; the next one still runs. Names hold no colon, so
// that the runner can read them back.
export class Steps {
  passed = 0;
  failed = 0;

  async step(name: string, fn: () => Promise<string | void>): Promise<void> {
    try {
      const note = await fn();
      this.passed++;
      console.log(`ok   ${name}${note ? `: ${oneLine(note)}` : ""}`);
    } catch (err) {
      this.failed++;
      console.log(`FAIL ${name}: ${oneLine(describe(err))}`);
    }
  }

  /** finish prints the count and sets the exit status: 0 only when every step passed. */
  finish(): void {
    console.log(`${this.passed} passed, ${this.failed} failed`);
    process.exitCode = this.failed === 0 && this.passed > 0 ? 0 : 1;
  }
}

export function describe(err: unknown): string {
  if (err instanceof Error) {
    // zod's errors carry their issues; say them, not the stack.
    const issues = (err as { issues?: { path?: PropertyKey[]; message: string }[] }).issues;
    if (Array.isArray(issues)) {
      return `${err.name}: ` + issues.map((i) => `${(i.path ?? []).map(String).join(".") || "(root)"}: ${i.message}`).join("; ");
    }
    return err.message;
  }
  return JSON.stringify(err) ?? String(err);
}

function oneLine(s: string): string {
  const flat = s.replace(/\s*\n\s*/g, " ");
  return flat.length > 400 ? flat.slice(0, 400) + "…" : flat;
}

/** check throws when cond is false: the step fails with what. */
export function check(cond: unknown, what: string): asserts cond {
  if (!cond) {
    throw new Error(what);
  }
}

/** equal throws unless got and want are the same JSON value. */
export function equal(got: unknown, want: unknown, what: string): void {
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  if (g !== w) {
    throw new Error(`${what}: got ${g}, want ${w}`);
  }
}
