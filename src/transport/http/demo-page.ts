import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import type { HttpRequest, HttpResponse, TemplatedApp } from "uWebSockets.js";

/**
 * The demo page at `/`. Its script is TypeScript (public/app.ts and the
 * client in client/), bundled into one ES module by esbuild when the process
 * starts: no build step and no build output in git, one client implementation.
 * esbuild comes with tsx, a production dependency.
 */

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

const root = new URL("../../../", import.meta.url);
const source = (path: string): string => fileURLToPath(new URL(path, root));

// The page loads only its own files and talks only to its own origin.
const PAGE_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

let assets: Promise<Map<string, Asset>> | undefined;

/** Built once per process and shared by every server in it. */
export function demoPageAssets(): Promise<Map<string, Asset>> {
  return (assets ??= buildAssets());
}

async function buildAssets(): Promise<Map<string, Asset>> {
  const bundle = await build({
    entryPoints: [source("public/app.ts")],
    bundle: true,
    format: "esm",
    target: "es2022",
    platform: "browser",
    write: false,
    logLevel: "silent",
  });
  const files: [string, Buffer | Promise<Buffer>, string][] = [
    ["/", readFile(source("public/index.html")), "text/html; charset=utf-8"],
    ["/style.css", readFile(source("public/style.css")), "text/css; charset=utf-8"],
    ["/app.js", Buffer.from(bundle.outputFiles[0]!.contents), "text/javascript; charset=utf-8"],
  ];
  const built = new Map<string, Asset>();
  for (const [path, body, type] of files) {
    const bytes = await body;
    built.set(path, { body: bytes, type, etag: `"${createHash("sha256").update(bytes).digest("base64url").slice(0, 22)}"` });
  }
  return built;
}

/** Serves the page's files; revalidated on every load (ETag), so a deploy is seen at once. */
export function mountDemoPage(app: TemplatedApp, files: Map<string, Asset>): void {
  for (const [path, asset] of files) {
    app.get(path, (res, req) => serve(res, req, asset, path === "/", true));
    app.head(path, (res, req) => serve(res, req, asset, path === "/", false));
  }
}

function serve(res: HttpResponse, req: HttpRequest, asset: Asset, page: boolean, withBody: boolean): void {
  const fresh = req.getHeader("if-none-match") === asset.etag;
  res.cork(() => {
    res.writeStatus(fresh ? "304 Not Modified" : "200 OK");
    res.writeHeader("ETag", asset.etag);
    res.writeHeader("Cache-Control", "no-cache");
    res.writeHeader("X-Content-Type-Options", "nosniff");
    if (page) {
      res.writeHeader("Content-Security-Policy", PAGE_POLICY);
      res.writeHeader("Referrer-Policy", "no-referrer");
    }
    if (fresh) return void res.endWithoutBody();
    res.writeHeader("Content-Type", asset.type);
    if (withBody) return void res.end(asset.body);
    // This uWS build aborts on endWithoutBody(length): the length goes in as a header.
    res.writeHeader("Content-Length", String(asset.body.length));
    res.endWithoutBody();
  });
}
