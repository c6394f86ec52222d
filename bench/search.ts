// Search latency over a realistic corpus: `npm run bench:search`.
//
// Starts the product in cluster mode (bench/lib/targets.ts), loads N messages
// (default 100,000) spread over 1,000 chats straight into the search index
// through the product's own Elasticsearch adapter (MySQL is not involved in a
// search, so going through the write path would only make seeding slower),
// then drives GET …/messages/search through the API with autocannon: a random
// chat and a random one- or two-word prefix query per request. Reports
// requests/s, p50/p99 and how many queries found something.

import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ElasticsearchSearchIndex } from "../src/adapters/elasticsearch/elasticsearch-search.js";
import type { Message } from "../src/domain/types.js";
import { runHttpLoad } from "./lib/http-load.js";
import { repoRoot } from "./lib/procs.js";
import { startProduct } from "./lib/targets.js";

const { values: flags } = parseArgs({
  options: {
    messages: { type: "string", default: "100000" },
    chats: { type: "string", default: "1000" },
    duration: { type: "string", default: "15" },
    connections: { type: "string", default: "50" },
    smoke: { type: "boolean", default: false },
  },
});
const smoke = flags.smoke === true;
const messages = smoke ? 2000 : Number(flags.messages);
const chats = smoke ? 20 : Number(flags.chats);
const durationS = smoke ? 2 : Number(flags.duration);
const connections = Number(flags.connections);
const log = (line: string): void => void process.stderr.write(`[search-bench] ${line}\n`);

/** A deterministic generator, so every run searches the same corpus. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rand = random(20261121);
const syllables = ["ka", "lo", "mi", "ren", "tas", "vo", "quin", "del", "sar", "po", "nu", "bri", "ge", "thal", "or", "xe"];
const vocabulary = Array.from({ length: 3000 }, () => Array.from({ length: 2 + Math.floor(rand() * 3) }, () => syllables[Math.floor(rand() * syllables.length)]).join(""));
const pick = <T>(items: T[]): T => items[Math.floor(rand() * items.length)]!;

async function main(): Promise<void> {
  const product = await startProduct({ spreadChats: chats, seedMessages: 0 }, log);
  try {
    const search = new ElasticsearchSearchIndex({ node: product.env.ELASTICSEARCH_URL!, alias: product.env.SEARCH_ALIAS! });
    await search.ensure();
    const started = Date.now();
    const now = Date.now();
    const perChat = new Map<number, number>();
    for (let done = 0; done < messages; ) {
      const batch: Message[] = [];
      for (; batch.length < 2000 && done < messages; done++) {
        const chat = 1 + (done % chats);
        const number = (perChat.get(chat) ?? 0) + 1;
        perChat.set(chat, number);
        const body = Array.from({ length: 5 + Math.floor(rand() * 15) }, () => pick(vocabulary)).join(" ");
        batch.push({ app: product.app, chat, number, body, createdAt: now, updatedAt: now });
      }
      await search.index(batch);
    }
    await search.client.indices.refresh({ index: product.env.SEARCH_ALIAS! });
    const seedS = (Date.now() - started) / 1000;
    log(`indexed ${messages} messages in ${chats} chats in ${seedS.toFixed(1)} s`);
    await search.close();

    let withHits = 0;
    let answered = 0;
    const result = await runHttpLoad({
      origin: product.origin,
      method: "GET",
      connections,
      durationS,
      path: () => {
        const words = Array.from({ length: 1 + Math.floor(rand() * 2) }, () => pick(vocabulary).slice(0, 2 + Math.floor(rand() * 3)));
        return `/api/v1/applications/${product.app}/chats/${1 + Math.floor(rand() * chats)}/messages/search?q=${encodeURIComponent(words.join(" "))}&limit=20`;
      },
      onBody: (status, body) => {
        if (status !== 200) return;
        answered++;
        if (body.startsWith('{"data":[{')) withHits++;
      },
    });
    const summary = {
      messages,
      chats,
      seedSeconds: seedS,
      connections,
      durationS: result.durationS,
      okPerSec: result.okPerSec,
      p50: result.latency.p50,
      p99: result.latency.p99,
      ok: result.ok,
      non2xx: result.non2xx,
      errors: result.errors,
      withHitsShare: answered ? withHits / answered : 0,
    };
    console.log("| messages | chats | connections | ok/s | p50 ms | p99 ms | non-2xx | errors | queries with hits |");
    console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    console.log(
      `| ${messages.toLocaleString("en-US")} | ${chats} | ${connections} | ${Math.round(summary.okPerSec).toLocaleString("en-US")} | ${summary.p50?.toFixed(2)} | ${summary.p99?.toFixed(2)} | ${summary.non2xx} | ${summary.errors} | ${(summary.withHitsShare * 100).toFixed(0)} % |`,
    );
    const dir = join(repoRoot, ".cache", "bench");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `search-${new Date().toISOString().replace(/[:.]/g, "-")}.json`), JSON.stringify(summary, null, 2));
    if (result.ok === 0 || result.non2xx > 0 || result.errors > 0) {
      process.exitCode = 1;
      log("FAILED: searches did not all answer 200");
    }
  } finally {
    await product.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`search bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
