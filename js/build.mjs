// Bundles the widget front-ends into ../landscape_widgets/static/ and copies
// the JSON tables the bundles share with Python next to them: the colour maps
// (for the PNG renderer) and the styles (role colours, for the 3D surface and
// the PNG). The bundles hold their own copies: esbuild inlines imported JSON.
// Also copies the files that `landscape_widgets.export_html` inlines into a
// self-contained HTML page (no CDN) into ../landscape_widgets/static/embed/:
// the AMD build of @jupyter-widgets/html-manager and require.js.
//
//   node build.mjs            one minified build (what `npm run build` does)
//   node build.mjs --watch    rebuild on change, with inline source maps
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outdir = join(here, "..", "landscape_widgets", "static");
const watch = process.argv.includes("--watch");
const SHARED_TABLES = ["colormaps.json", "styles.json"];

const options = {
  entryPoints: [join(here, "src", "landscape.js"), join(here, "src", "curve_training.js")],
  outdir,
  bundle: true,
  format: "esm",
  target: "es2020",
  minify: !watch,
  sourcemap: watch ? "inline" : false,
  logLevel: "info",
};

mkdirSync(outdir, { recursive: true });
for (const name of SHARED_TABLES) copyFileSync(join(here, "src", name), join(outdir, name));
copyEmbedFiles(join(outdir, "embed"));
if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else {
  await esbuild.build(options);
}

// The embed files, each with its `//# sourceMappingURL=` comments removed: the
// maps are not shipped, and a page opened from disk must not look for them.
function copyEmbedFiles(dest) {
  const require = createRequire(import.meta.url);
  const managerDist = dirname(require.resolve("@jupyter-widgets/html-manager/dist/embed-amd.js"));
  const files = {
    "embed-amd.js": join(managerDist, "embed-amd.js"),
    "require.js": require.resolve("requirejs/require.js"),
  };
  mkdirSync(dest, { recursive: true });
  for (const [name, src] of Object.entries(files)) {
    let text = readFileSync(src, "utf8").replace(/^\/\/# sourceMappingURL=.*$/gm, "");
    if (name === "embed-amd.js") text = inlineFonts(text, managerDist);
    writeFileSync(join(dest, name), text);
  }
  const versions = {};
  for (const pkg of ["@jupyter-widgets/html-manager", "requirejs"]) {
    versions[pkg] = require(`${pkg}/package.json`).version;
  }
  writeFileSync(join(dest, "versions.json"), JSON.stringify(versions, null, 2) + "\n");
}

// The bundle's Font Awesome stylesheet (icons of bqplot's toolbar, of buttons)
// loads its fonts from files next to the script, which a single-file page does
// not have: "Failed to load resource" errors. Each font is an asset module
// `e.exports=n.p+"<hash>.<ext>"`; make the woff2 ones data: URLs (every
// browser that runs the bundle takes woff2 first) and the other formats empty.
function inlineFonts(text, distDir) {
  const asset = /([\w$]+)\.p\+"([0-9a-f]{20}\.(woff2|woff|ttf|eot|svg))"/g;
  let woff2 = 0;
  const out = text.replace(asset, (_match, _runtime, file, ext) => {
    if (ext !== "woff2") return JSON.stringify("data:,");
    woff2 += 1;
    const data = readFileSync(join(distDir, file)).toString("base64");
    return JSON.stringify(`data:font/woff2;base64,${data}`);
  });
  if (woff2 === 0) {
    throw new Error("embed-amd.js: no font asset found to inline; has html-manager changed?");
  }
  return out;
}
