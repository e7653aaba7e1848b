// Parses mermaid files with the real mermaid parser; one line per file, exit 1 if any fails.
// With --tree first, prints instead one JSON line per state diagram, as mermaid understood it:
// {"parents": {state: composite state or null}, "relations": [[from, to], ...]}.
import { readFileSync } from "node:fs";
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;

const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });

function tree(doc, parent, out) {
  for (const stmt of doc) {
    if (stmt.stmt === "state") {
      if (!(stmt.id in out.parents) || out.parents[stmt.id] === null) out.parents[stmt.id] = parent;
      if (stmt.doc) tree(stmt.doc, stmt.id, out);
    } else if (stmt.stmt === "relation") {
      for (const s of [stmt.state1, stmt.state2]) if (!(s.id in out.parents)) out.parents[s.id] = parent;
      out.relations.push([stmt.state1.id, stmt.state2.id]);
    }
  }
  return out;
}

const args = process.argv.slice(2);
if (args[0] === "--tree") {
  for (const path of args.slice(1)) {
    const diagram = await mermaid.mermaidAPI.getDiagramFromText(readFileSync(path, "utf8"));
    console.log(JSON.stringify(tree(diagram.db.getRootDocV2().doc, null, { parents: {}, relations: [] })));
  }
  process.exit(0);
}

let failed = 0;
for (const path of args) {
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
