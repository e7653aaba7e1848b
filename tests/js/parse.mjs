// Parses mermaid files with the real mermaid parser; one line per file, exit 1 if any fails.
import { readFileSync } from "node:fs";
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;

const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });

let failed = 0;
for (const path of process.argv.slice(2)) {
  const text = readFileSync(path, "utf8");
  try {
    const result = await mermaid.parse(text);
    console.log(`ok ${path} ${result.diagramType}`);
  } catch (err) {
    failed += 1;
    console.log(`FAIL ${path}: ${String(err?.message ?? err).split("\n").join(" | ")}`);
  }
}
process.exit(failed ? 1 : 0);
