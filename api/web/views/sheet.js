// The access sheet: made on request (every trainee of the class gets a new password),
// shown as cards that print one per trainee, and as a PDF of the same sheet.

import { api, token } from "../api.js";
import { lang, t, when } from "../i18n.js";
import { button, errorBox, h, link } from "../ui.js";
import { topologyPicture } from "./topology.js";

export async function sheetView(context, name) {
  await api(`/api/v1/classes/${name}`); // 404/403 before anything is offered
  const out = h("div", { id: "sheet" });
  const message = h("div", { "aria-live": "polite" });
  const make = button(t("sheetMake"), async () => {
    make.disabled = true;
    make.textContent = t("sheetMaking");
    message.replaceChildren();
    try {
      const sheet = await api(`/api/v1/classes/${name}/access-sheet`, { method: "POST" });
      out.replaceChildren(render(sheet, name, message));
    } catch (error) {
      message.append(errorBox(error));
    } finally {
      make.disabled = false;
      make.textContent = t("sheetMake");
    }
  }, { class: "primary", id: "sheet-make" });
  return h(
    "section",
    { class: "sheet-view" },
    h("h1", {}, t("sheetTitle", { name })),
    h("div", { class: "no-print" }, h("p", {}, t("sheetIntro")), h("div", { class: "toolbar" }, make, link(t("back"), `#/classes/${name}`, { class: "button ghost" }))),
    message,
    out,
  );
}

function render(sheet, name, message) {
  const pdf = button(t("pdf"), async () => {
    message.replaceChildren();
    try {
      // The same sheet as shown, rendered by the server (no password changes).
      const response = await fetch(`/api/v1/classes/${name}/access-sheet/pdf?lang=${lang()}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token()}`, "Content-Type": "application/json" },
        body: JSON.stringify(sheet),
      });
      if (!response.ok) throw Object.assign(new Error((await response.json()).error), { status: response.status });
      const url = URL.createObjectURL(await response.blob());
      const a = h("a", { href: url, download: `access-${name}.pdf` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } catch (error) {
      message.append(errorBox(error));
    }
  }, { id: "sheet-pdf" });
  return h(
    "div",
    {},
    h("div", { class: "toolbar no-print" }, button(t("print"), () => window.print(), { class: "primary", id: "sheet-print" }), pdf),
    h("p", { class: "muted" }, sheet.title, " · ", t("sheetMade", { at: when(sheet.made_at), by: sheet.made_by })),
    seatNetwork(sheet),
    h("div", { class: "cards" }, sheet.entries.map((entry) => card(entry, sheet.web_url))),
  );
}

// Every seat of a class is the same lab: its topology, drawn once above the cards (the
// first seat's: the same addresses in every seat, but for the management addresses,
// which are left out; each card says its own). Left out when it cannot be read.
function seatNetwork(sheet) {
  const box = h("figure", { class: "sheet-topology", id: "sheet-topology" });
  if (!sheet.entries.length) return box;
  api(`/api/v1/labs/${sheet.entries[0].seat}/topology`)
    .then((topology) => {
      box.append(
        h("figcaption", {}, t("sheetTopology")),
        h("div", { class: "topology-wrap", tabindex: 0, role: "group", "aria-label": t("topology") }, topologyPicture(topology, "sheet-topology-svg", { management: false })),
      );
    })
    .catch(() => box.remove());
  return box;
}

function card(entry, webUrl) {
  return h(
    "article",
    { class: "sheet-card", dataset: { seat: entry.seat } },
    h("h2", {}, `${t("seat")}: ${entry.seat}`),
    h(
      "dl",
      {},
      row(t("sheetWeb"), webUrl),
      row(t("sheetLogin"), h("code", { class: "login" }, entry.login)),
      row(t("sheetPassword"), h("code", { class: "password" }, entry.password)),
    ),
    entry.machines.map((m) =>
      h(
        "div",
        { class: "sheet-machine" },
        h("h3", {}, t("sheetMachine", { name: m.machine })),
        h(
          "dl",
          {},
          row(t("console"), h("span", { class: "url" }, m.console_url)),
          ...(m.appliance_logins && m.appliance_logins.length
            ? m.appliance_logins.map((login) => row(t("sheetAccount"), h("code", {}, login)))
            : [
                row(
                  t("sheetAccount"),
                  m.account ? h("code", {}, `${m.account} / ${m.password}`) : t("sheetNoAccount"),
                ),
              ]),
          ...(m.ssh_command
            ? [row(t("sheetSsh"), [h("code", {}, m.ssh_command), " — ", t("sheetSshNote", { address: m.address })])]
            : []),
        ),
      ),
    ),
  );
}

function row(label, value) {
  return [h("dt", {}, label), h("dd", {}, value)];
}
