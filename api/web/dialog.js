// A confirmation in a modal <dialog> (never window.confirm, which a page cannot style or
// translate): a question, what it will do, and, for what cannot be undone, a name to
// type before the button works. Escape or Cancel answers no; focus goes back to what
// opened it.

import { t } from "./i18n.js";
import { h } from "./ui.js";

/** Resolves true when confirmed. `typed`: the text to type first (a class's name). */
export function confirmDialog({ id, title, body, confirm, typed = null }) {
  return new Promise((resolve) => {
    const titleId = `${id}-title`;
    const input = typed
      ? h("input", { id: `${id}-typed`, autocomplete: "off", spellcheck: "false", autocapitalize: "none" })
      : null;
    const ok = h("button", { type: "submit", class: "danger", id: `${id}-ok`, disabled: Boolean(typed) }, confirm);
    const cancel = h("button", { type: "button", class: "ghost", id: `${id}-cancel` }, t("cancel"));
    const form = h(
      "form",
      { method: "dialog" },
      h("h2", { id: titleId }, title),
      body ? h("p", {}, body) : null,
      typed ? [h("label", { for: `${id}-typed` }, t("typeToConfirm", { name: typed })), input] : null,
      h("div", { class: "toolbar" }, ok, cancel),
    );
    const dialog = h("dialog", { id, class: "confirm-dialog card", "aria-labelledby": titleId }, form);
    const opener = document.activeElement;
    let answer = false;
    const matches = () => !typed || input.value.trim() === typed;
    input?.addEventListener("input", () => {
      ok.disabled = !matches();
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!matches()) return;
      answer = true;
      dialog.close();
    });
    cancel.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      dialog.remove();
      if (opener && opener.isConnected) opener.focus();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
    (input || cancel).focus();
  });
}
