import type { WriteEvent } from "./types.js";

/** The application a write belongs to (a store refuses writes for an unknown one). */
export function applicationOf(event: WriteEvent): string {
  switch (event.kind) {
    case "chat":
      return event.chat.app;
    case "read_marker":
      return event.marker.app;
    default:
      return event.message.app;
  }
}
