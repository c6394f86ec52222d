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
import { userToken } from "../support/user-tokens.js";

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

  /** Runs a test's steps; if they fail, keeps what each open page showed, next to the step screenshots. */
  const shootingOnFailure = (steps: () => Promise<void>) => async (): Promise<void> => {
    try {
      await steps();
    } catch (err) {
      await Promise.all(pages.map((page, i) => (page.isClosed() ? undefined : page.screenshot({ path: join(shots, `failed-page-${i + 1}.png`) }).catch(() => undefined))));
      throw err;
    }
  };

  it("two pages on one chat: live both ways, nothing lost across an API kill -9 and restart, search, history", shootingOnFailure(twoPages));

  it("two users on one chat: every message names its sender, each page shows who is here and who is typing", shootingOnFailure(twoUsers));

  async function twoUsers(): Promise<void> {
    const base = `http://127.0.0.1:${proxy.port}`;
    const api = new ChatApi({ baseUrl: base });
    const app = await api.createApplication("Identity demo");
    const chat = await api.createChat(app.token, "team");
    const url = `${base}/#app=${app.token}&chat=${chat.number}`;

    // Each page acts as a user whose token the application's backend signed with its secret.
    const actAs = async (sub: string, name: string): Promise<Page> => {
      const page = await open(url);
      await state(page, "open");
      await page.waitForSelector("#send-body:not([disabled])");
      await page.fill("#user-token", await userToken(app.secret, { sub, name, app: app.token }));
      await page.press("#user-token", "Enter");
      await page.waitForSelector(`#user-current:has-text("Acting as ${name}")`);
      return page;
    };
    const alice = await actAs("alice", "Alice");
    const bob = await actAs("bob", "Bob");
    const here = (page: Page, names: string[]): Promise<true> =>
      eventually(
        async () => {
          const listed = /^Here: (.+)$/.exec((await page.textContent("#presence")) ?? "")?.[1]?.split(", ") ?? [];
          return listed.sort().join() === [...names].sort().join();
        },
        30_000,
        `${names.join(" and ")} listed as here`,
      );
    await Promise.all([here(alice, ["Alice", "Bob"]), here(bob, ["Alice", "Bob"])]);

    // Typing shows on the other page only.
    await alice.locator("#send-body").pressSequentially("Hi Bob", { delay: 20 });
    await bob.waitForSelector('#typing:text-is("Alice is typing…")');
    assert.equal(await alice.textContent("#typing"), "", "a user is not shown their own typing");
    await alice.press("#send-body", "Enter");
    await bob.fill("#send-body", "Hi Alice");
    await bob.press("#send-body", "Enter");

    // Each message names who sent it, on both pages.
    const meta = async (page: Page, body: string): Promise<string> => {
      const item = page.locator("#messages li", { has: page.locator(".body", { hasText: body }) });
      await item.waitFor();
      return (await item.locator(".meta").textContent()) ?? "";
    };
    for (const page of [alice, bob]) {
      assert.match(await meta(page, "Hi Bob"), /^#1 · Alice · /);
      assert.match(await meta(page, "Hi Alice"), /^#2 · Bob · /);
    }
    await bob.screenshot({ path: join(shots, "07-two-users.png") });
    // The sender is the server's record too, not only the page's.
    const stored = await api.listMessages(app.token, chat.number);
    assert.deepEqual(
      stored.data.map((m) => [m.number, m.sender?.id, m.sender?.name]).sort(),
      [
        [1, "alice", "Alice"],
        [2, "bob", "Bob"],
      ],
    );

    // Bob leaves: Alice's page stops listing him.
    await bob.close();
    await here(alice, ["Alice"]);
    assert.deepEqual(pageErrors, [], "no uncaught error on either page");
  }

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
