// Bundle the page into the Python package (src/her2kit/api/static/), which `her2kit serve`
// serves; nothing is fetched from elsewhere at run time. Run by scripts/setup_web.sh.
import { build } from "esbuild";
import { copyFile, mkdir, rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(here, "../src/her2kit/api/static");

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
await build({
  entryPoints: { app: path.join(here, "src/main.js") },
  bundle: true,
  minify: true,
  format: "iife",
  target: ["chrome110", "firefox115", "safari16"],
  outdir: out,
  legalComments: "linked", // OpenSeadragon's BSD licence travels with the bundle
  logLevel: "warning",
});
await build({
  entryPoints: { app: path.join(here, "src/style.css") },
  bundle: true,
  minify: true,
  outdir: out,
  logLevel: "warning",
});
await copyFile(path.join(here, "src/index.html"), path.join(out, "index.html"));
await copyFile(path.join(here, "node_modules/openseadragon/LICENSE.txt"),
  path.join(out, "openseadragon-LICENSE.txt"));
