// The ops dashboard, progressively enhanced: without this script the page has a refresh link and
// never reloads itself. With it, the figures update in place from figures.json every 15 seconds
// (no reload, so nothing moves under someone's hand: WCAG 2.2.1 and 2.2.4), and a button pauses
// and resumes the updates.
import { initAll } from "./vendor/govuk/govuk-frontend.min.js";

initAll();

const INTERVAL_MS = 15000;
const panel = document.querySelector("[data-figures-url]");

// Read a key like "queue_depths.matching" from the figures, one level per dot.
const lookUp = (figures, key) =>
  key.split(".").reduce((value, part) => (value == null ? undefined : value[part]), figures);

const format = (value, decimals) => {
  if (value === null) return "–";
  return decimals === undefined ? String(value) : Number(value).toFixed(Number(decimals));
};

const show = (figures) => {
  for (const element of document.querySelectorAll("[data-figure]")) {
    const value = lookUp(figures, element.dataset.figure);
    if (value === undefined) continue; // a queue that has gone: keep what the page showed
    const text = format(value, element.dataset.decimals);
    if (element.textContent !== text) element.textContent = text;
  }
};

// The alerts are written on the server; when the set has changed, say so and offer the reload.
const alertsOnPage = [...document.querySelectorAll("[data-alert]")].map((a) => a.dataset.alert);
const alertsChanged = (figures) =>
  [...figures.alerts].sort().join(" ") !== [...alertsOnPage].sort().join(" ");

const clock = () => new Date().toISOString().slice(11, 19);

if (panel) {
  const status = document.createElement("p");
  status.className = "govuk-body";
  status.dataset.updateStatus = "";
  const button = document.createElement("button");
  button.type = "button";
  button.className = "govuk-button govuk-button--secondary";
  button.dataset.module = "govuk-button";
  const notice = document.createElement("p");
  notice.className = "govuk-inset-text";
  notice.hidden = true;
  notice.dataset.alertsChanged = "";
  const reload = panel.querySelector("[data-refresh-link]").cloneNode(true);
  notice.append("The alerts have changed since the page was loaded. ", reload, ".");
  panel.append(button, status, notice);

  let timer = null;
  const setStatus = (text) => { status.textContent = text; };

  const update = async () => {
    try {
      const response = await fetch(panel.dataset.figuresUrl, {
        credentials: "same-origin", headers: { Accept: "application/json" },
      });
      if (!response.ok) throw new Error(`figures.json answered ${response.status}`);
      const figures = await response.json();
      if (timer === null) return; // paused while the request was on its way
      show(figures);
      notice.hidden = !alertsChanged(figures);
      setStatus(`Figures update every 15 seconds; last updated ${clock()} UTC.`);
    } catch (error) {
      setStatus(`The figures could not be updated at ${clock()} UTC; trying again in 15 seconds.`);
    }
  };

  const resume = () => {
    timer = window.setInterval(update, INTERVAL_MS);
    button.textContent = "Pause updates";
    setStatus("Figures update every 15 seconds.");
  };
  const pause = () => {
    window.clearInterval(timer);
    timer = null;
    button.textContent = "Resume updates";
    setStatus(`Updates paused at ${clock()} UTC.`);
  };
  button.addEventListener("click", () => (timer === null ? resume() : pause()));
  resume();
}
