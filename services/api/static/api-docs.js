// Render the OpenAPI document with ReDoc (static/vendor/redoc, built from its npm package).
// ReDoc adds its styles in <style> elements: the nonce lets them through the page's CSP. Search
// is off: it runs in a worker made from a blob: URL, which the policy refuses (the menu lists
// every operation).
const container = document.getElementById("redoc");
const font = "arial, sans-serif"; // as on the other pages (no web fonts are loaded)

window.Redoc.init(container.dataset.specUrl, {
  nonce: document.currentScript.nonce,
  lazyRendering: true,
  disableSearch: true,
  theme: { typography: { fontFamily: font, headings: { fontFamily: font } } },
}, container);
