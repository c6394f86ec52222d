import type { Page } from "./types.js";

/**
 * Walks a keyset-paged list: calls `load` with each page's `next` until the
 * last page. For example every chat of an application:
 * `for await (const chats of pages((after) => api.listChats(token, { after })))`.
 */
export async function* pages<T>(load: (cursor: string | undefined) => Promise<Page<T>>): AsyncGenerator<T[], void, undefined> {
  let cursor: string | undefined;
  do {
    const page = await load(cursor);
    yield page.data;
    cursor = page.next ?? undefined;
  } while (cursor !== undefined);
}
