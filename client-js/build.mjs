// Builds the web page into chatio/static/; `--check` fails when the
// committed files differ from a fresh build.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import * as esbuild from "esbuild";

const HERE = fileURLToPath(new URL(".", import.meta.url));
export const STATIC_DIR = resolve(HERE, "../chatio/static");

const COMMON = {
  absWorkingDir: HERE,
  bundle: true,
  minify: true,
  outdir: null,
  logLevel: "warning",
  legalComments: "none",
  charset: "utf8",
};

/** Writes app.js, app.css and index.html into `outdir`. */
export async function build(outdir) {
  mkdirSync(outdir, { recursive: true });
  await esbuild.build({
    ...COMMON, outdir, entryPoints: { app: "web/main.js" },
    format: "esm", platform: "browser", target: ["es2022"],
  });
  await esbuild.build({ ...COMMON, outdir, entryPoints: { app: "web/style.css" } });
  copyFileSync(join(HERE, "web/index.html"), join(outdir, "index.html"));
}

/** File names whose bytes differ between two directories. */
export function differences(a, b) {
  const names = new Set([...readdirSync(a), ...readdirSync(b)]);
  const read = (dir, name) => {
    try {
      return readFileSync(join(dir, name));
    } catch {
      return null;
    }
  };
  return [...names].sort().filter((name) => {
    const x = read(a, name);
    const y = read(b, name);
    return x === null || y === null || !x.equals(y);
  });
}

/** Builds into a temporary directory and compares it with chatio/static/. */
export async function check() {
  const dir = mkdtempSync(join(tmpdir(), "chatio-build-"));
  try {
    await build(dir);
    return differences(dir, STATIC_DIR);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv.includes("--check")) {
    const stale = await check();
    if (stale.length) {
      console.error(`chatio/static/ is not the build of client-js (differs: ${stale.join(", ")}); run "npm run build" in client-js`);
      process.exit(1);
    }
    console.log("chatio/static/ matches a fresh build");
  } else {
    await build(STATIC_DIR);
    console.log(`built ${STATIC_DIR}`);
  }
}
