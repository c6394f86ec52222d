import type { Cluster, Redis } from "ioredis";

/**
 * One Redis server or a Redis Cluster. Every adapter takes either through
 * the same code: each script and command touches one slot, so a cluster
 * routes it like a single server runs it.
 */
export type RedisClient = Redis | Cluster;
