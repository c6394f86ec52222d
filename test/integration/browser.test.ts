import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { ChatApi } from "../../client/index.js";
import { cleanupRun } from "../support/cleanup.js";
import { eventually, isolatedEnv } from "../support/env.js";
import { spawnCli, spawnCluster, type Proc } from "../support/processes.js";
import { TcpProxy } from "../support/tcp-proxy.js";

// The demo page in Debian's Chromium, driven by playwright-core, against a
// cluster-mode API process and worker on the loopback services. The pages
// reach the API through a proxy on a fixed port, as a browser reaches a
// deployment through its load balancer, so the API process can be killed
// (-9) and a new one started while the pages stay open.

const root = fileURLToPath(new URL("../..", import.meta.url));
const shots = join(root, ".cache", "browser");
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"];

/** The numbers and bodies a page lists, top to bottom (newest first). */
async function shown(page: Page): Promise<{ number: number; body: string }[]> {
  const items = await page.locator("#messages li").all();
  return Promise.all(items.map(async (li) => ({ number: Number(await li.getAttribute("data-number")), body: (await li.locator(".body").textContent()) ?? "" })));
}

async function waitForBodies(page: Page, bodies: string[]): Promise<void> {
  for (const body of bodies) await page.locator("#messages .body").getByText(body, { exact: true }).waitFor();
}

const waitForCount = (page: Page, selector: string, count: number): Promise<true> =>
  eventually(async () => (await page.locator(selector).count()) === count, 30_000, `${count} × ${selector}`);

/** Every number once, newest first, exactly the bodies sent. */
async function assertHistory(page: Page, bodies: string[], what: string): Promise<void> {
  const list = await shown(page);
  const numbers = list.map((m) => m.number);
  assert.deepEqual(numbers, [...numbers].sort((a, b) => b - a), `${what}: newest first`);
  assert.equal(new Set(numbers).size, numbers.length, `${what}: no number twice`);
  assert.deepEqual(list.map((m) => m.body).sort(), [...bodies].sort(), `${what}: every message, nothing else`);
}

const state = (page: Page, value: string) => page.waitForSelector(`#connection[data-state="${value}"]`);

describe("demo page in Chromium", () => {
  let env: Record<string, string>;
  let serve: Proc;
  let worker: Proc;
  const proxy = new TcpProxy("127.0.0.1", 0);
  let context: BrowserContext;
  let profile: string;
  const pageErrors: string[] = [];

  before(async () => {
    await mkdir(shots, { recursive: true });
    env = isolatedEnv("browser");
    ({ servers: [serve], worker } = (await spawnCluster(env, 1)) as { servers: [Proc]; worker: Proc });
    proxy.retarget(serve.port!);
    await proxy.start();
    profile = await mkdtemp(join(tmpdir(), "chat-chromium-"));
    context = await chromium.launchPersistentContext(profile, { executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS, headless: true, viewport: { width: 1280, height: 800 } });
    context.setDefaultTimeout(30_000);
  });

  after(async () => {
    await context?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
    await proxy.cut();
    await Promise.all([serve?.stop(), worker?.stop()]);
    if (env) await cleanupRun(env);
  });

  const pages: Page[] = [];
  const open = async (url: string): Promise<Page> => {
    const page = await context.newPage();
    pages.push(page);
    page.on("pageerror", (err) => pageErrors.push(err.message));
    await page.goto(url);
    return page;
  };

  it("two pages on one chat: live both ways, nothing lost across an API kill -9 and restart, search, history", async () => {
    try {
      await twoPages();
    } catch (err) {
      // What each page showed when it failed, next to the step screenshots.
      await Promise.all(pages.map((page, i) => page.screenshot({ path: join(shots, `failed-page-${i + 1}.png`) }).catch(() => undefined)));
      throw err;
    }
  });

  async function twoPages(): Promise<void> {
    const base = `http://127.0.0.1:${proxy.port}`;
    const a = await open(`${base}/`);
    await state(a, "open");

    // Create an application and a chat with the keyboard alone.
    await a.focus("#app-create-name");
    await a.keyboard.type("Browser demo");
    await a.keyboard.press("Enter");
    await a.waitForSelector("#app-current:not([hidden])");
    await a.focus("#chat-create-name");
    await a.keyboard.type("general");
    await a.keyboard.press("Enter");
    await a.waitForSelector("#send-body:not([disabled])");
    const url = a.url();
    assert.match(url, /#app=[A-Za-z0-9_-]{22}&chat=1$/, "the token and chat are in the hash");
    const token = new URL(url).hash.match(/app=([^&]+)/)![1]!;
    await a.screenshot({ path: join(shots, "01-created.png") });

    const b = await open(url);
    await state(b, "open");
    await b.waitForSelector("#send-body:not([disabled])");

    const send = async (page: Page, body: string): Promise<void> => {
      await page.fill("#send-body", body);
      await page.press("#send-body", "Enter");
    };
    const bodies = ["Hello from page A", "Hello from page B"];
    await send(a, bodies[0]!);
    await waitForBodies(b, [bodies[0]!]);
    await send(b, bodies[1]!);
    await Promise.all([waitForBodies(a, bodies), waitForBodies(b, bodies)]);
    await a.screenshot({ path: join(shots, "02-page-a.png") });
    await b.screenshot({ path: join(shots, "02-page-b.png") });

    // The API process dies; both pages see it and keep what they have.
    await serve.stop("SIGKILL");
    await Promise.all([state(a, "reconnecting"), state(b, "reconnecting")]);
    const queued = "Sent while the server was down";
    await send(a, queued);
    await a.waitForSelector("#send-status:has-text('waiting to be sent')");
    await a.screenshot({ path: join(shots, "03-reconnecting.png") });
    bodies.push(queued);

    // A new API process; messages created before the pages are back come by resume.
    serve = await spawnCli("serve", env);
    proxy.retarget(serve.port!);
    const api = new ChatApi({ baseUrl: base });
    for (let i = 1; i <= 3; i++) {
      const body = `After the restart ${i}`;
      await api.sendMessage(token, 1, body);
      bodies.push(body);
    }
    await Promise.all([state(a, "open"), state(b, "open")]);
    await Promise.all([waitForBodies(a, bodies), waitForBodies(b, bodies)]);
    await a.waitForSelector("#send-status:text-is('')");
    await assertHistory(a, bodies, "page A");
    await assertHistory(b, bodies, "page B");
    await b.screenshot({ path: join(shots, "04-resumed.png") });

    // Search, with the matched word beginnings marked; indexing takes a moment, so search until found.
    await b.fill("#search-q", "resta aft");
    await eventually(
      async () => {
        if ((await b.locator("#search-results li").count()) === 3) return true;
        if ((await b.textContent("#search-status")) !== "Searching…") await b.click("#search button");
        return false;
      },
      30_000,
      "the three messages to be found",
    );
    const marks = await b.locator("#search-results mark").allTextContents();
    assert.deepEqual(marks, ["Aft", "resta", "Aft", "resta", "Aft", "resta"], "the query's word beginnings are marked in each hit");
    await b.screenshot({ path: join(shots, "05-search.png") });

    // History: a reload keeps the application and chat; older pages by keyset (before).
    for (let i = 1; i <= 55; i++) {
      const body = `Backlog ${i}`;
      await api.sendMessage(token, 1, body);
      bodies.push(body);
    }
    await b.reload();
    await state(b, "open");
    await waitForCount(b, "#messages li", 50);
    assert.equal((await shown(b))[0]!.body, "Backlog 55", "newest first");
    await b.click("#older");
    await waitForCount(b, "#messages li", bodies.length);
    assert.equal(await b.isHidden("#older"), true, "the oldest page reached");
    await assertHistory(b, bodies, "page B after paging");
    await b.screenshot({ path: join(shots, "06-history.png") });

    assert.deepEqual(pageErrors, [], "no uncaught error on either page");
  }
});
