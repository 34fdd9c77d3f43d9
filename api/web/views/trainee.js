// A trainee's own seat (and, for the other roles, any lab they may see): its machines
// with their consoles, its state and last reset, and a reset with live progress. When
// the seat's class runs a course, its task panel comes first (views/course.js).

import { api } from "../api.js";
import { seconds, t, when } from "../i18n.js";
import { button, errorBox, h, link } from "../ui.js";
import { coursePanel } from "./course.js";
import { progressPanel } from "./progress.js";

export async function seatsView(context) {
  const me = await api("/api/v1/me");
  if (me.labs.length === 1) return labView(context, me.labs[0]);
  if (!me.labs.length) return h("section", {}, h("h1", {}, t("navSeat")), h("p", {}, t("seatNone")));
  return h(
    "section",
    {},
    h("h1", {}, t("navSeat")),
    h("ul", { class: "plain" }, me.labs.map((lab) => h("li", {}, link(lab, `#/labs/${lab}`)))),
  );
}

export async function labView(context, name) {
  const progress = progressPanel(context);
  const message = h("div", { "aria-live": "polite" });
  const [lab, resets, course] = await Promise.all([
    api(`/api/v1/labs/${name}`),
    api(`/api/v1/labs/${name}/resets`),
    coursePanel(context, name, { progress, onRestarted: () => refreshFacts().catch(() => {}) }),
  ]);
  const summary = h("div", { id: "seat-summary" }, facts(lab, resets[0]));
  async function refreshFacts() {
    const [fresh, latest] = await Promise.all([api(`/api/v1/labs/${name}`), api(`/api/v1/labs/${name}/resets`)]);
    if (context.current()) summary.replaceChildren(facts(fresh, latest[0]));
  }
  const reset = button(t("resetMine"), async () => {
    reset.disabled = true;
    message.replaceChildren();
    try {
      const op = await api(`/api/v1/labs/${name}/reset`, { method: "POST" });
      await progress.track(op);
      await refreshFacts();
      if (course && context.current()) await course.reload();
    } catch (error) {
      message.append(errorBox(error));
    } finally {
      reset.disabled = false;
    }
  }, { id: "reset-mine" });
  const role = context.user.role;
  return h(
    "section",
    { class: "seat-view", dataset: { lab: name } },
    h("h1", {}, role === "trainee" ? t("seatTitle", { name }) : name),
    summary,
    course ? course.element : null,
    h("h2", {}, t("machines")),
    h(
      "ul",
      { class: "machines" },
      lab.machines.map((m) =>
        h(
          "li",
          { class: "machine card", dataset: { machine: m.name } },
          h("h3", {}, m.name),
          m.managed === false ? h("p", { class: "muted appliance" }, t("applianceNote")) : null,
          h(
            "div",
            { class: "toolbar" },
            link(t("console"), `#/console/${name}/${m.name}`, { class: "button primary console-link" }),
            m.graphics ? link(t("graphical"), `#/vnc/${name}/${m.name}`, { class: "button vnc-link" }) : null,
          ),
        ),
      ),
    ),
    // Every role that sees a lab here may reset it (the API says no otherwise).
    h("div", { class: "toolbar" }, reset, h("span", { class: "muted" }, t("resetMineHint"))),
    message,
    progress.element,
  );
}

function facts(lab, last) {
  return h(
    "dl",
    { class: "facts" },
    h("dt", {}, t("state")),
    h("dd", { class: "lab-status" }, t(`lab_${lab.status}`)),
    h("dt", {}, t("profile")),
    h("dd", {}, lab.profile),
    h("dt", {}, t("lastReset")),
    h(
      "dd",
      { class: "last-reset", dataset: { ok: last ? String(last.ok) : "" } },
      last
        ? `${when(last.started_at)} · ${last.ok ? t("readyYes") : t("readyNo")} · ${seconds(last.seconds)}`
        : t("never"),
    ),
  );
}
