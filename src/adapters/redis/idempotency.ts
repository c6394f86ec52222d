import { createHash } from "node:crypto";

/**
 * Lua shared by the numbering scripts: a remembered key's value is
 * "number:createdAt:fingerprint"; a repeat of the same request answers
 * {1, number, createdAt}, the same key with another request {2, 0, 0}.
 */
export const LUA_ANSWER_SEEN = `
local function answer_seen(reply, seen, fingerprint)
  local number, at, previous = string.match(seen, '^(%d+):(%d+):(.+)$')
  if previous == fingerprint then
    table.insert(reply, 1) table.insert(reply, tonumber(number)) table.insert(reply, tonumber(at))
  else
    table.insert(reply, 2) table.insert(reply, 0) table.insert(reply, 0)
  end
end
`;

/** Reply codes shared by the numbering scripts. */
export const RECOVERING = -3;
export const NEEDS_SEED = -2;

const OUTCOME = ["created", "repeat", "conflict"] as const;

/** The per-item triples of a numbering script's reply: {outcome, number, createdAt}… after the status. */
export function outcomesOf(reply: number[]): { kind: (typeof OUTCOME)[number]; number: number; createdAt: number }[] {
  const outcomes = [];
  for (let i = 1; i < reply.length; i += 3) outcomes.push({ kind: OUTCOME[reply[i]!]!, number: Number(reply[i + 1]), createdAt: Number(reply[i + 2]) });
  return outcomes;
}

/**
 * KEYS and ARGV tails for keyed items: each item with a key gets the next
 * KEYS slot (after `fixedKeys` fixed ones); the script reads its index.
 */
export function keySlots<T extends { key: string | null }>(items: T[], fixedKeys: number, keyName: (key: string) => string): { keys: string[]; slots: number[] } {
  const keys: string[] = [];
  const slots = items.map((item) => {
    if (item.key === null) return 0;
    keys.push(keyName(item.key));
    return fixedKeys + keys.length;
  });
  return { keys, slots };
}

/** A chat name's fingerprint for idempotency: a null name differs from every string. */
export const nameFingerprint = (name: string | null): string => (name === null ? "-" : createHash("sha1").update(name).digest("hex"));
