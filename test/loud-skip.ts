// Loud skips: a test suite that needs root or a Debian package says why it skipped; in CI a skip fails.

/**
 * Returns true when the suite must be skipped. Outside CI it prints a SKIPPED line to stderr;
 * with CI=true it throws, so a skip can never hide in CI.
 */
export function skipUnless(check: { ok: true } | { ok: false; why: string }, suite: string): boolean {
  if (check.ok) return false;
  const line = `SKIPPED ${suite}: ${check.why}`;
  if (process.env.CI === "true") throw new Error(`${line} (a skip is a failure in CI)`);
  process.stderr.write(`\n\x1b[33m${line}\x1b[0m\n`);
  return true;
}
