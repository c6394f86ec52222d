import uWS from "uWebSockets.js";

/**
 * The npm build of uWebSockets.js silently falls back to a slow JavaScript
 * implementation when its native binary does not load. We refuse to run on it.
 */
export function nativeUws(): typeof uWS {
  if (process.env.UWS_USE_FALLBACK || !String(uWS.App).includes("[native code]")) {
    throw new Error(
      `uWebSockets.js native binary did not load (platform ${process.platform}-${process.arch}, ABI ${process.versions.modules}); refusing the JavaScript fallback`,
    );
  }
  return uWS;
}
