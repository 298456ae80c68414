// Bundles the example page into dist/example: main.js (React, supabase-js, the panel), main.css, index.html.
import { copyFile, mkdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const out = here("./dist/example");
await mkdir(out, { recursive: true });
await build({
  entryPoints: { main: here("./example/main.tsx") },
  outdir: out,
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  jsx: "automatic",
  sourcemap: true,
  define: { "process.env.NODE_ENV": '"production"' },
  logLevel: "warning",
});
await copyFile(here("./example/index.html"), `${out}/index.html`);
