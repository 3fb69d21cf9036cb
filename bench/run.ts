// Runs every bench/*.bench.ts (or those named on the command line), each in a fresh process so one bench's
// heap and leftover work never slow the next, prints figures with ratios against the baseline measured in
// the same run, and rewrites their sections in docs/benchmarks.md.
import { fork } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Bench, BenchFigure } from "./bench.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const docPath = path.join(here, "..", "docs", "benchmarks.md");

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString("en-US");
  return n.toPrecision(3);
}

function figureLine(f: BenchFigure): string {
  const base = f.baseline ? ` | ${fmt(f.baseline.value)} ${f.unit} (${f.baseline.name}) | ${fmt(f.value / f.baseline.value)}×` : " | – | –";
  const goal = f.goal ? ` | ${f.goal} ${f.met === undefined ? "" : f.met ? "✔ met" : "✘ not met"}` : " | –";
  return `| ${f.name} | ${fmt(f.value)} ${f.unit}${base}${goal} |`;
}

function section(name: string, b: Bench, figures: BenchFigure[] | Error, when: string): string {
  const head = `<!-- bench:${name} -->\n## ${b.title}\n\n${b.description}\n\n_Last run: ${when}._\n\n`;
  if (figures instanceof Error) return `${head}Failed in the last run: ${figures.message}\n<!-- /bench:${name} -->`;
  const rows = figures.map(figureLine).join("\n");
  return `${head}| measured | value | baseline (same run) | ratio | goal |\n|---|---|---|---|---|\n${rows}\n<!-- /bench:${name} -->`;
}

async function main() {
  const only = process.argv.slice(2);
  const files = (await fs.readdir(here)).filter((f) => f.endsWith(".bench.ts")).sort();
  const selected = files.filter((f) => only.length === 0 || only.includes(f.replace(/\.bench\.ts$/, "")));
  if (selected.length === 0) {
    console.error(`no benchmarks match ${only.join(", ")}; have: ${files.map((f) => f.replace(/\.bench\.ts$/, "")).join(", ")}`);
    process.exitCode = 2;
    return;
  }
  let doc = await fs.readFile(docPath, "utf8").catch(() => "");
  if (!doc.trim()) {
    doc = `# Benchmarks\n\nWritten by \`npm run bench\` (bench/run.ts; each bench runs in a fresh process, so one bench's heap never slows the next). Each figure comes with a baseline measured in the same run on the same machine; the ratio is value ÷ baseline. Goals come from the issues and are reported, never asserted in tests.\n`;
  }
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  for (const file of selected) {
    const name = file.replace(/\.bench\.ts$/, "");
    const { bench } = (await import(pathToFileURL(path.join(here, file)).href)) as { bench: Bench };
    console.log(`\n== ${bench.title}`);
    const result = await runAlone(file);
    if (result instanceof Error) {
      console.log(`failed: ${result.message}`);
      process.exitCode = 1;
    } else for (const f of result) console.log(figureLine(f));
    const text = section(name, bench, result, `${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC on ${machine}`);
    const re = new RegExp(`<!-- bench:${name} -->[\\s\\S]*?<!-- /bench:${name} -->`);
    doc = re.test(doc) ? doc.replace(re, text) : `${doc.trimEnd()}\n\n${text}\n`;
  }
  await fs.mkdir(path.dirname(docPath), { recursive: true });
  await fs.writeFile(docPath, doc.endsWith("\n") ? doc : doc + "\n");
  console.log(`\nwrote ${path.relative(process.cwd(), docPath)}`);
}

type Outcome = { figures: BenchFigure[] } | { error: string };

/** Runs one bench file in a child process of its own and returns its figures (or why it failed). */
function runAlone(file: string): Promise<BenchFigure[] | Error> {
  return new Promise((resolve) => {
    let outcome: Outcome | undefined;
    const child = fork(fileURLToPath(import.meta.url), ["--alone", file], { execArgv: ["--import", import.meta.resolve("tsx")] });
    child.on("message", (m) => (outcome = m as Outcome));
    child.on("exit", (code, signal) => {
      if (outcome && "figures" in outcome) resolve(outcome.figures);
      else resolve(new Error(outcome?.error ?? `the bench process ended (${signal ?? `exit ${code}`}) without figures`));
    });
  });
}

/** The child's side: run the bench, send its figures to the parent, and end (timers a bench left behind do not keep it). */
async function alone(file: string): Promise<void> {
  const { bench } = (await import(pathToFileURL(path.join(here, file)).href)) as { bench: Bench };
  let outcome: Outcome;
  try {
    outcome = { figures: await bench.run() };
  } catch (err) {
    outcome = { error: err instanceof Error ? err.message : String(err) };
  }
  process.send?.(outcome, () => process.exit(0));
}

if (process.argv[2] === "--alone" && process.argv[3]) await alone(process.argv[3]);
else await main();
