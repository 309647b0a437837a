// Bundles the widget front-ends into ../landscape_widgets/static/ and copies
// the shared colour-map table next to them for the Python PNG renderer.
//
//   node build.mjs            one minified build (what `npm run build` does)
//   node build.mjs --watch    rebuild on change, with inline source maps
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outdir = join(here, "..", "landscape_widgets", "static");
const watch = process.argv.includes("--watch");

const options = {
  entryPoints: [join(here, "src", "landscape.js")],
  outdir,
  bundle: true,
  format: "esm",
  target: "es2020",
  minify: !watch,
  sourcemap: watch ? "inline" : false,
  logLevel: "info",
};

mkdirSync(outdir, { recursive: true });
copyFileSync(join(here, "src", "colormaps.json"), join(outdir, "colormaps.json"));
if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else {
  await esbuild.build(options);
}
