/** A bus endpoint as the hub sees it. */
export interface HubMember {
  /** Whether this endpoint currently subscribes `channel`. */
  subscribes(channel: string): boolean;
  deliver(channel: string, payload: Uint8Array): void;
}

/**
 * The in-process stand-in for the Redis pub/sub server: MemoryBus instances
 * that share a hub see each other's publishes (one process in embedded mode
 * normally needs just one bus; tests use two to check fanout).
 */
export class MemoryBusHub {
  private readonly members = new Set<HubMember>();

  join(member: HubMember): void {
    this.members.add(member);
  }

  leave(member: HubMember): void {
    this.members.delete(member);
  }

  publish(channel: string, payload: Uint8Array): void {
    for (const member of this.members) {
      if (member.subscribes(channel)) member.deliver(channel, payload);
    }
  }
}
