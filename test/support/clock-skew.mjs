// Preloaded with --import into a process whose wall clock should run off by
// CLOCK_SKEW_MS (positive: ahead), like a host with a drifting clock.
const skew = Number(process.env.CLOCK_SKEW_MS ?? 0);
const realNow = Date.now;
Date.now = () => realNow() + skew;
