// Summarizes a V8 .cpuprofile (node --cpu-prof): top functions by self time,
// and self time by where the code lives (our src/, each npm package, node
// internals, V8/GC). Usage: tsx bench/profile-summary.ts <file.cpuprofile>... [top=10]
// (whole profile; bench/run.ts --profile keeps only the load window).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTimeRow {
  function: string;
  location: string;
  area: string;
  selfMs: number;
  /** Share of all sampled time, and of the time the thread was not idle. */
  pctTotal: number;
  pctBusy: number;
  /** Where the time was spent from: the nearest JavaScript callers, by self time. */
  callers: string[];
}

/** A time window on the system monotonic clock (µs), which V8 profiles and process.hrtime share on Linux. */
export interface Window {
  startUs: number;
  endUs: number;
}

export interface ProfileSummary {
  /** The load window the samples were restricted to, or null for the whole profile. */
  window: Window | null;
  totalMs: number;
  idleMs: number;
  busyMs: number;
  top: SelfTimeRow[];
  byArea: { area: string; selfMs: number; pctBusy: number }[];
}

const root = fileURLToPath(new URL("..", import.meta.url));

function areaOf(frame: CallFrame): string {
  const url = frame.url;
  if (!url) return frame.functionName.startsWith("(") ? frame.functionName : "(native)";
  if (url.startsWith("node:")) return "node internals";
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  const path = url.replace(/^file:\/\//, "");
  if (path.startsWith(root)) return path.slice(root.length).split("/").slice(0, 2).join("/");
  return "other";
}

function locationOf(frame: CallFrame): string {
  if (!frame.url) return "";
  const path = frame.url.replace(/^file:\/\//, "").replace(root, "");
  return `${path}:${frame.lineNumber + 1}`;
}

const keyOf = (f: CallFrame): string => `${f.functionName}|${f.url}|${f.lineNumber}|${f.columnNumber}`;
const labelOf = (f: CallFrame): string => `${f.functionName || "(anonymous)"}${f.url ? ` ${locationOf(f)}` : ""}`;

export function summarize(profile: CpuProfile, top = 10, window: Window | null = null): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  // The window only applies when it overlaps the profile (same clock); otherwise use everything.
  const win = window && window.startUs < profile.endTime && window.endUs > profile.startTime ? window : null;
  const selfUs = new Map<number, number>();
  // Sample i lasts until sample i+1 (DevTools' convention); the last one gets the mean.
  const n = profile.samples.length;
  const mean = n > 0 ? (profile.endTime - profile.startTime) / n : 0;
  let t = profile.startTime;
  for (let i = 0; i < n; i++) {
    t += profile.timeDeltas[i]!;
    if (win && (t < win.startUs || t > win.endUs)) continue;
    const dt = i + 1 < n ? profile.timeDeltas[i + 1]! : mean;
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, dt));
  }
  const rows = new Map<string, { frame: CallFrame; us: number; callers: Map<string, number> }>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    totalUs += us;
    if (frame.functionName === "(idle)") idleUs += us;
    const key = keyOf(frame);
    const row = rows.get(key) ?? { frame, us: 0, callers: new Map<string, number>() };
    row.us += us;
    // Nearest caller in application or library code: skips native frames and node internals, which say little.
    let p = parentOf.get(id);
    const internal = (f: CallFrame): boolean => !f.url || f.url.startsWith("node:");
    while (p !== undefined && internal(byId.get(p)!.callFrame) && byId.get(p)!.callFrame.functionName !== "(root)") p = parentOf.get(p);
    if (p !== undefined) {
      const label = labelOf(byId.get(p)!.callFrame);
      row.callers.set(label, (row.callers.get(label) ?? 0) + us);
    }
    rows.set(key, row);
  }
  const busyUs = totalUs - idleUs;
  const ms = (us: number): number => Math.round(us / 100) / 10;
  const pct = (us: number, of: number): number => (of > 0 ? Math.round((1000 * us) / of) / 10 : 0);
  const areas = new Map<string, number>();
  for (const { frame, us } of rows.values()) {
    if (frame.functionName === "(idle)") continue;
    const area = areaOf(frame);
    areas.set(area, (areas.get(area) ?? 0) + us);
  }
  return {
    window: win,
    totalMs: ms(totalUs),
    idleMs: ms(idleUs),
    busyMs: ms(busyUs),
    top: [...rows.values()]
      .filter(({ frame }) => frame.functionName !== "(idle)")
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map(({ frame, us, callers }) => ({
        function: frame.functionName || "(anonymous)",
        location: locationOf(frame),
        area: areaOf(frame),
        selfMs: ms(us),
        pctTotal: pct(us, totalUs),
        pctBusy: pct(us, busyUs),
        callers: [...callers.entries()]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 3)
          .map(([label, cus]) => `${label} (${pct(cus, us)}%)`),
      })),
    byArea: [...areas.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([area, us]) => ({ area, selfMs: ms(us), pctBusy: pct(us, busyUs) })),
  };
}

export function formatSummary(s: ProfileSummary): string {
  const lines = [
    `${s.window ? "load window only" : "whole profile"}: sampled ${s.totalMs} ms, busy ${s.busyMs} ms (${Math.round((100 * s.busyMs) / Math.max(1, s.totalMs))}%), idle ${s.idleMs} ms`,
    "",
    "| # | self ms | % busy | function | location | called from |",
    "|---:|---:|---:|---|---|---|",
    ...s.top.map((r, i) => `| ${i + 1} | ${r.selfMs} | ${r.pctBusy} | \`${r.function}\` | ${r.location || r.area} | ${r.callers.join("<br>")} |`),
    "",
    "| area | self ms | % busy |",
    "|---|---:|---:|",
    ...s.byArea.map((a) => `| ${a.area} | ${a.selfMs} | ${a.pctBusy} |`),
  ];
  return lines.join("\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const files = args.filter((a) => a.endsWith(".cpuprofile"));
  const top = Number(args.find((a) => /^\d+$/.test(a)) ?? 10);
  if (files.length === 0) {
    process.stderr.write("usage: tsx bench/profile-summary.ts <file.cpuprofile>... [top]\n");
    process.exit(2);
  }
  for (const file of files) {
    const summary = summarize(JSON.parse(readFileSync(file, "utf8")) as CpuProfile, top);
    process.stdout.write(`${files.length > 1 ? `## ${file}\n\n` : ""}${formatSummary(summary)}\n\n`);
  }
}
