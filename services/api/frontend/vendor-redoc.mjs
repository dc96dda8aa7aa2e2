// Copy ReDoc's standalone bundle (the pinned npm package) for /api/docs, changed in two places so
// that it fetches nothing from another site and runs under the service's Content Security Policy,
// the same for every page. Each change must apply exactly once: if a new ReDoc moved the code,
// the build stops here rather than ship a page that breaks the policy.
// Usage: node vendor-redoc.mjs <redoc.standalone.js> <output file>
import { readFileSync, writeFileSync } from "node:fs";

const CHANGES = [
  {
    why: "the Redocly badge in the menu loads its image from Redocly's CDN; an empty data: URL " +
      "fails to load, and ReDoc then hides the image (its onError)",
    from: 'src:"https://cdn.redoc.ly/redoc/logo-mini.svg"',
    to: 'src:"data:,"',
  },
  {
    why: "the scrollbar styles are added while the bundle loads, before ReDoc is given the " +
      "page's nonce: take the nonce from the <script> element that loads the bundle",
    from: 'var t=n.nc;t&&e.setAttribute("nonce",t)',
    to: 'var t=n.nc||(document.currentScript||{}).nonce;t&&e.setAttribute("nonce",t)',
  },
];

const [source, target] = process.argv.slice(2);
let text = readFileSync(source, "utf8");
for (const change of CHANGES) {
  const count = text.split(change.from).length - 1;
  if (count !== 1) {
    console.error(`vendor-redoc: expected ${change.from} once in ${source}, found it ${count} ` +
      `times; this ReDoc differs from the one these changes were made for (${change.why}).`);
    process.exit(1);
  }
  text = text.replace(change.from, () => change.to);
}
writeFileSync(target, text);
