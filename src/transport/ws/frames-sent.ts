/**
 * Frames this process wrote to WebSockets, for the metrics. Process-wide like
 * the sockets themselves; direct sends and topic publishes both count, one
 * per receiving socket.
 */
let sent = 0;

export function countFramesSent(frames: number): void {
  sent += frames;
}

export function framesSent(): number {
  return sent;
}
