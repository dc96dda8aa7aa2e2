// Progressive enhancement only: every page works without this script.
import { initAll } from "./vendor/govuk/govuk-frontend.min.js";

initAll();

// The council list: a plain <select> without JavaScript, an accessible autocomplete with it.
const councilSelect = document.querySelector("select[data-autocomplete]");
if (councilSelect && window.accessibleAutocomplete) {
  window.accessibleAutocomplete.enhanceSelectElement({
    selectElement: councilSelect,
    defaultValue: "",
    minLength: 2,
    showAllValues: false,
    dropdownArrow: () => "",
  });
}

// While recommendations are being found, ask every two seconds and reload when they are ready
// (without JavaScript, a <noscript> meta refresh does the same).
const progress = document.querySelector('#recommendations[data-status="pending"]');
if (progress) {
  const poll = async () => {
    try {
      const response = await fetch(progress.dataset.statusUrl, { credentials: "same-origin" });
      const body = await response.json();
      if (body.status !== "pending") {
        window.location.reload();
        return;
      }
    } catch (error) {
      // a network blip: try again at the next tick
    }
    window.setTimeout(poll, 2000);
  };
  window.setTimeout(poll, 2000);
}
