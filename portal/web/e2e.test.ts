// The web portal end to end in headless Chromium against the product as `npm start` runs it (simulation): sign up → verify →
// create an instance → running → add a domain → download the VPN config → a shell prompt in the terminal (real sshd behind
// the simulator) → stop → delete; an axe-core scan of every page; screenshots of every page at desktop and phone widths.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { skipUnless } from "../../test/loud-skip.js";

const REPO = resolve(import.meta.dirname, "../..");
// The screenshots in docs/ are refreshed on request (UPDATE_SCREENSHOTS=1); other runs keep theirs in a temp dir.
const SHOTS = process.env.UPDATE_SCREENSHOTS === "1" ? join(REPO, "docs", "screenshots") : mkdtempSync(join(tmpdir(), "pxs-shots-"));
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKInZte4N4jzWW5jRTjyVW2dB3e0ryh5PFdf4g4KQ/Pn dana@laptop";
const PASSWORD = "correct horse battery";
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };
const LONG = 300_000;

const why =
  process.getuid?.() !== 0
    ? "needs root (real containers with sshd, the in-process VPN)"
    : !existsSync(CHROMIUM)
      ? `no Chromium at ${CHROMIUM} (apt-get install chromium)`
      : undefined;
const skip = skipUnless(why ? { ok: false, why } : { ok: true }, "portal/web/e2e.test.ts");

let root: string;
let dataDir: string;
let serve: ChildProcess | undefined;
let serveLog = "";
let url: string;
let browser: Browser;

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}\n--- serve log (tail) ---\n${serveLog.slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The verification code in the newest mail to `email` in <data dir>/outbox. */
function codeFor(email: string): string | undefined {
  const dir = join(dataDir, "outbox");
  if (!existsSync(dir)) return undefined;
  const mails = readdirSync(dir)
    .filter((f) => f.endsWith(".eml"))
    .sort()
    .map((f) => readFileSync(join(dir, f), "utf8"));
  const mine = mails.filter((m) => m.includes(`To: ${email}`));
  return /code is (\d{6})/.exec(mine.at(-1) ?? "")?.[1];
}

const axeSource = readFileSync(join(REPO, "node_modules", "axe-core", "axe.min.js"), "utf8");

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** axe-core in the page (evaluated over the DevTools protocol, so the page's CSP stays as served): serious and critical violations. */
async function axe(page: Page): Promise<string[]> {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const r = await (window as unknown as { axe: { run(ctx: Document, o: object): Promise<{ violations: Violation[] }> } }).axe.run(document, {
      resultTypes: ["violations"],
    });
    return r.violations;
  });
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

/** Scans the page and saves it at desktop and phone widths as <name>-desktop.png / -phone.png (docs/screenshots with UPDATE_SCREENSHOTS=1). */
async function check(page: Page, name: string): Promise<void> {
  await page.locator(".sim-banner").waitFor();
  expect(await axe(page), `axe on ${name}`).toEqual([]);
  await page.screenshot({ path: join(SHOTS, `${name}-desktop.png`), fullPage: true });
  await page.setViewportSize(PHONE);
  // Charts re-measure after the resize: wait for the layout to settle, and name what is too wide if it does not.
  await expect
    .poll(
      () =>
        page.evaluate(() => {
          if (document.documentElement.scrollWidth <= window.innerWidth + 1) return "fits";
          const wide = [...document.querySelectorAll("body *")].filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1).at(-1);
          return `too wide: ${wide ? `${wide.tagName.toLowerCase()}.${wide.className} "${(wide.textContent ?? "").slice(0, 60)}"` : "?"}`;
        }),
      { timeout: 15_000, message: `${name} fits a phone's width` },
    )
    .toBe("fits");
  await page.screenshot({ path: join(SHOTS, `${name}-phone.png`), fullPage: true });
  await page.setViewportSize(DESKTOP);
}

beforeAll(async () => {
  if (skip) return;
  if (!existsSync(join(REPO, "portal", "web", "dist", "index.html"))) execFileSync("npm", ["run", "build:web"], { cwd: REPO, stdio: "inherit" });
  mkdirSync(SHOTS, { recursive: true });
  root = mkdtempSync(join(tmpdir(), "web-e2e-"));
  dataDir = join(root, "data");
  const port = await freePort();
  serve = spawn(process.execPath, [join(REPO, "bin", "proxstack.js"), "serve"], {
    cwd: root,
    env: { ...process.env, PROXSTACK_DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  serve.stdout?.on("data", (b: Buffer) => (serveLog += b.toString()));
  serve.stderr?.on("data", (b: Buffer) => (serveLog += b.toString()));
  url = await until(
    "serve.json with the portal URL",
    () => {
      if (serve?.exitCode !== null) throw new Error(`serve exited with ${serve?.exitCode}\n${serveLog}`);
      const f = join(dataDir, "serve.json");
      if (!existsSync(f)) return undefined;
      return (JSON.parse(readFileSync(f, "utf8")) as { portal?: { url: string } }).portal?.url;
    },
    LONG,
  );
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}, LONG + 60_000);

afterAll(async () => {
  await browser?.close();
  if (serve && serve.exitCode === null) {
    const exited = new Promise((r) => serve!.once("exit", r));
    serve.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
    if (serve.exitCode === null) serve.kill("SIGKILL");
  }
  if (root) rmSync(root, { recursive: true, force: true });
}, 60_000);

describe.skipIf(skip)("the web portal in Chromium against npm start (simulation)", () => {
  it("takes a newcomer from sign-up to a shell in their container and back to nothing, every page accessible", async () => {
    try {
      await newcomerFlow();
    } catch (err) {
      (err as Error).message += `\n--- serve log (tail) ---\n${serveLog.slice(-6000)}`;
      throw err;
    }
  }, 900_000);
});

async function newcomerFlow(): Promise<void> {
  {
    const context = await browser.newContext({ viewport: DESKTOP, acceptDownloads: true });
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    const email = "dana@example.com";

    // Sign up: an API error shows next to its field first.
    await page.goto(`${url}/signup`);
    await page.getByLabel("Name").fill("Dana Scully");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill("short");
    await page.getByRole("button", { name: "Sign up" }).click();
    await page.getByText("must be at least 10 characters").waitFor();
    expect(await page.getByLabel("Password").getAttribute("aria-invalid")).toBe("true");
    await check(page, "signup");
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign up" }).click();
    await page.waitForURL(/\/verify\?email=/);
    const code = await until("the verification mail", () => codeFor(email), 30_000);
    await page.getByLabel("Code").fill(code);
    await check(page, "verify");
    await page.getByRole("button", { name: "Verify" }).click();
    await page.waitForURL(/\/signin\?verified=1/);
    await page.getByLabel("Password").fill(PASSWORD);
    await check(page, "signin");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Dashboard" }).waitFor();
    await expect.poll(() => page.getByTestId("balance").textContent()).toBe("100");

    // Create: the name is checked as it is typed, the runway check is explained.
    await page.getByRole("link", { name: "Create instance" }).click();
    await page.getByLabel("Name").fill("Web");
    await page.getByText("Use lower-case letters only.").waitFor();
    await page.getByLabel("Name").fill("web");
    await page.getByLabel("SSH public key").fill(KEY);
    await expect
      .poll(() => page.getByTestId("runway").textContent())
      .toMatch(/^Your new burn is [\d.]+ points\/day; 24 h of it needs [\d.]+ points and you have 100\.$/);
    await check(page, "create");
    await page.getByRole("button", { name: "Create instance" }).click();
    await page.waitForURL(/\/instances\/dana-scully\.web$/);

    // Running: the badge changes live; the address and uptime appear.
    await page.locator("h1 .badge[data-state=running]").waitFor({ timeout: LONG });
    await expect.poll(() => page.getByTestId("ip").textContent(), { timeout: 60_000 }).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    await page.getByTestId("uptime").waitFor({ timeout: 60_000 });

    // A domain: the full hostname is previewed while typing; the first one is free.
    await page.getByLabel("Subdomain").fill("www");
    expect(await page.getByTestId("hostname-preview").textContent()).toBe("dana-scully-web-www.example.com");
    expect(await page.getByTestId("domain-price").textContent()).toMatch(/^This domain is free/);
    await page.getByRole("button", { name: "Add domain" }).click();
    await page.getByRole("link", { name: "dana-scully-web-www.example.com" }).waitFor();
    expect(await page.getByTestId("domain-price").textContent()).toMatch(/^This domain costs 2 points\/day/);

    // The VPN config: a download and its QR code.
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download VPN config" }).click()]);
    const conf = readFileSync((await download.path())!, "utf8");
    expect(conf).toContain("[Interface]");
    expect(conf).toContain("[Peer]");
    await page.getByAltText(/QR code of the WireGuard config/).waitFor();

    // The terminal: a shell prompt from the container's sshd, once the SSH hardening hook (which restarts sshd) is through.
    await page
      .locator("#progress li", { hasText: /hook ssh-harden succeeded/ })
      .first()
      .waitFor({ timeout: LONG });
    await page.getByRole("button", { name: "Open terminal" }).click();
    await expect.poll(() => page.getByTestId("terminal-status").textContent(), { timeout: 60_000 }).toBe("Terminal: connected");
    await expect.poll(() => page.locator(".xterm-rows").innerText(), { timeout: 60_000 }).toMatch(/[$#]\s*$/m);
    await page.locator(".xterm-helper-textarea").focus();
    await page.keyboard.type("echo proxstack-$((6*7))\n");
    await expect.poll(() => page.locator(".xterm-rows").innerText(), { timeout: 30_000 }).toContain("proxstack-42");
    await page.getByRole("button", { name: "Close terminal" }).click();
    // A snapshot and a backup, through Proxmox (the simulator's API).
    await page.getByLabel("Snapshot name").fill("before_upgrade");
    await page.getByRole("button", { name: "Take snapshot" }).click();
    await page
      .locator("#snapshots")
      .getByRole("button", { name: "Roll back to before_upgrade" })
      .or(page.locator("#snapshots [role=alert]"))
      .first()
      .waitFor({ timeout: 60_000 });
    expect(await page.locator("#snapshots [role=alert]").allTextContents()).toEqual([]);
    await page.getByRole("button", { name: "Back up now" }).click();
    await page
      .locator("#backups li code", { hasText: /vzdump-lxc-/ })
      .first()
      .waitFor({ timeout: 60_000 });
    await page.getByRole("heading", { name: "History" }).waitFor();
    await expect.poll(() => page.locator("figure.chart").count()).toBe(4);
    await check(page, "instance");

    // Dashboard and points with the instance in them.
    await page.getByRole("link", { name: "Dashboard" }).click();
    await page.locator("tr[data-instance='dana-scully.web'] .badge[data-state=running]").waitFor();
    await check(page, "dashboard");
    await page.getByRole("link", { name: "Points" }).click();
    await page.getByRole("cell", { name: "Welcome bonus", exact: true }).waitFor();
    await check(page, "points");

    // Admin, as an administrator made with the CLI.
    const pwFile = join(root, "admin-password");
    writeFileSync(pwFile, "operator passphrase 42\n", { mode: 0o600 });
    execFileSync(process.execPath, [join(REPO, "bin", "proxstack.js"), "admin", "create", "--email", "ops@example.com", "--password-file", pwFile], {
      cwd: root,
      env: { ...process.env, PROXSTACK_DATA_DIR: dataDir },
      stdio: "pipe",
    });
    const adminContext = await browser.newContext({ viewport: DESKTOP });
    const admin = await adminContext.newPage();
    admin.setDefaultTimeout(30_000);
    await admin.goto(`${url}/signin`);
    await admin.getByLabel("Email").fill("ops@example.com");
    await admin.getByLabel("Password").fill("operator passphrase 42");
    await admin.getByRole("button", { name: "Sign in" }).click();
    await admin.getByRole("link", { name: "Admin" }).click();
    await admin.locator("li[data-user='dana@example.com']").waitFor();
    await admin.getByRole("cell", { name: "dana-scully", exact: true }).waitFor();
    await check(admin, "admin");
    await adminContext.close();

    // Stop, then delete with the typed confirmation.
    await page.getByRole("link", { name: "Dashboard" }).click();
    await page.getByRole("link", { name: "web", exact: true }).click();
    await page.getByRole("button", { name: "Stop web" }).click();
    await page.locator("h1 .badge[data-state=stopped]").waitFor({ timeout: LONG });
    await page.getByText("Delete this instance").click();
    const del = page.getByRole("button", { name: "Delete instance" });
    expect(await del.isDisabled()).toBe(true);
    await page.getByLabel("Type web to confirm").fill("web");
    await del.click();
    await page.getByRole("heading", { name: "Dashboard" }).waitFor();
    await page.getByText("No instances yet.").waitFor({ timeout: LONG });

    // Sign out ends the session: the dashboard asks to sign in again.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await context.close();
  }
}
