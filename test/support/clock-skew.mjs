// Preload (NODE_OPTIONS="--import <this file>") for a process whose wall clock
// is off by TEST_CLOCK_SKEW_MS, as another host's clock can be: Date.now()
// answers the real time plus the skew. Only Date.now is shifted, which is what
// the product reads for timestamps it compares across processes.
const skew = Number(process.env.TEST_CLOCK_SKEW_MS ?? 0);
if (!Number.isFinite(skew)) throw new Error(`TEST_CLOCK_SKEW_MS is not a number: ${process.env.TEST_CLOCK_SKEW_MS}`);
const realNow = Date.now;
Date.now = () => realNow() + skew;
