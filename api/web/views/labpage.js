// The staff's page of one lab: its machines (addresses, roles, resources, state), its
// topology, its latest verification results with the JUnit report, its checkpoints, and
// the actions (reset, stop, start, capture a baseline, take it down after its name is
// typed in a dialog), each an operation followed live. Trainees and testers keep the
// seat's page (views/trainee.js).

import { api, download } from "../api.js";
import { confirmDialog } from "../dialog.js";
import { t, when } from "../i18n.js";
import { button, errorBox, h, link, table } from "../ui.js";
import { progressPanel } from "./progress.js";
import { labView } from "./trainee.js";
import { topologyPicture } from "./topology.js";

const STAFF = ["admin", "engineer"];

export async function labPageView(context, name) {
  if (!STAFF.includes(context.user.role)) return labView(context, name);
  const progress = progressPanel(context);
  const message = h("div", { id: "lab-message", "aria-live": "polite" });
  const body = h("div", { id: "lab-body" });

  async function latest() {
    try {
      return await api(`/api/v1/labs/${name}/tests/latest`);
    } catch (error) {
      if (error.status === 404) return null;
      throw error;
    }
  }

  async function refresh() {
    const [status, topology, verification, checkpoints, baseline] = await Promise.all([
      api(`/api/v1/labs/${name}/status`),
      api(`/api/v1/labs/${name}/topology`),
      latest(),
      api(`/api/v1/labs/${name}/checkpoints`).catch(() => []),
      api(`/api/v1/labs/${name}/baseline`),
    ]);
    if (context.current()) body.replaceChildren(...parts(status, topology, verification, checkpoints, baseline));
  }

  // One action at a time, as the API allows one operation on a lab at a time: the
  // buttons wait while the page's own operation runs.
  function busy(yes) {
    for (const b of actions.querySelectorAll("button")) b.disabled = yes;
  }

  async function run(request, method = "POST", payload = undefined) {
    message.replaceChildren();
    busy(true);
    try {
      const op = await api(request, { method, body: payload });
      const ended = await progress.track(op);
      return ended;
    } catch (error) {
      message.replaceChildren(errorBox(error));
      return null;
    } finally {
      // The page shows the operation's outcome before it offers the next action.
      if (context.current()) await refresh().catch((error) => message.replaceChildren(errorBox(error)));
      busy(false);
    }
  }

  async function takeDown() {
    const yes = await confirmDialog({
      id: "take-down-dialog",
      title: t("takeDownTitle", { name }),
      body: t("takeDownBody"),
      confirm: t("takeDown"),
      typed: name,
    });
    if (!yes) return;
    message.replaceChildren();
    busy(true);
    try {
      const op = await api(`/api/v1/labs/${name}`, { method: "DELETE" });
      const ended = await progress.track(op);
      if (ended && ended.status === "succeeded" && context.current()) {
        body.replaceChildren();
        actions.remove();
        message.replaceChildren(h("p", { class: "ok", id: "lab-gone" }, t("labGone", { name }), " ", link(t("navLabs"), "#/labs")));
      }
    } catch (error) {
      message.replaceChildren(errorBox(error));
    }
    if (document.contains(actions)) busy(false);
  }

  const actions = h(
    "div",
    { class: "toolbar", id: "lab-actions" },
    button(t("resetLab"), () => run(`/api/v1/labs/${name}/reset`), { id: "lab-reset" }),
    button(t("stopLab"), () => run(`/api/v1/labs/${name}/power`, "POST", { action: "stop" }), { id: "lab-stop" }),
    button(t("startLabPower"), () => run(`/api/v1/labs/${name}/power`, "POST", { action: "start" }), { id: "lab-start" }),
    button(t("captureBaseline"), () => run(`/api/v1/labs/${name}/baseline`), { id: "lab-baseline" }),
    button(t("runTests"), () => run(`/api/v1/labs/${name}/test`), { id: "lab-test" }),
    button(t("takeDown"), takeDown, { id: "lab-take-down", class: "danger" }),
  );

  function parts(status, topology, verification, checkpoints, baseline) {
    const byName = new Map(topology.machines.map((m) => [m.name, m]));
    const machines = status.machines.map((m) => ({ ...m, ...(byName.get(m.name) || {}), plan: status.lab.machines.find((p) => p.name === m.name) }));
    return [
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, t("state")),
        h("dd", { class: "lab-status", dataset: { status: status.lab.status } }, t(`lab_${status.lab.status}`)),
        h("dt", {}, t("profile")),
        h("dd", {}, status.lab.profile),
        h("dt", {}, t("created")),
        h("dd", {}, when(status.lab.created_at)),
        h("dt", {}, t("baselineAt")),
        h("dd", { id: "baseline-at" }, baseline.created_at ? when(baseline.created_at) : t("noBaseline")),
      ),
      h("h2", {}, t("machines")),
      table(
        [
          { label: t("machine"), cell: (m) => m.name + (m.appliance ? ` (${t("topoAppliance")})` : "") },
          { label: t("state"), cell: (m) => `${t(`power_${m.state}`)}${m.reachable ? ` · ${t("reachable")}` : ""}` },
          { label: t("roles"), cell: (m) => (m.roles || []).join(", ") || "—" },
          { label: t("image"), cell: (m) => m.plan?.image || "—" },
          { label: t("addresses"), cell: (m) => [...(m.addresses_list || m.addresses?.map?.((a) => `${a.network}: ${a.address}`) || []), `${t("topoManagement")}: ${m.management_address || m.plan?.address}`].join(", ") },
          { label: t("console"), cell: (m) => link(t("console"), `#/console/${name}/${m.name}`) },
        ],
        machines,
        { rowAttrs: (m) => ({ "data-machine": m.name, "data-state": m.state }) },
      ),
      h("h2", {}, t("topology")),
      h("div", { class: "topology-wrap", tabindex: 0, role: "group", "aria-label": t("topology") }, topologyPicture(topology, "lab-topology")),
      h("h2", {}, t("testResults")),
      verification ? results(verification) : h("p", { id: "no-results" }, t("noResults")),
      h("h2", {}, t("checkpointsTitle")),
      checkpoints.length
        ? h("ul", { id: "checkpoints" }, checkpoints.map((c) => h("li", { "data-checkpoint": c.name }, `${c.name} · ${when(c.created_at)}`)))
        : h("p", {}, t("noCheckpoints")),
    ];
  }

  function results(v) {
    return h(
      "div",
      { id: "test-results", "data-passed": String(v.passed) },
      h("p", {}, `${when(v.at)} · ${v.passed ? t("testsPassed") : t("testsFailed", { failed: v.failed })}`),
      table(
        [
          { label: t("test"), cell: (r) => r.name },
          { label: t("machine"), cell: (r) => r.machine },
          { label: t("outcome"), cell: (r) => t(`outcome_${r.outcome}`) },
          { label: t("messageCol"), cell: (r) => r.message || "—" },
        ],
        v.results,
        { rowAttrs: (r) => ({ "data-test": r.name, "data-outcome": r.outcome }) },
      ),
      button(t("junitDownload"), () => download(`/api/v1/labs/${name}/tests/latest/junit`, `${name}-junit.xml`).catch((e) => message.replaceChildren(errorBox(e))), { id: "junit-download" }),
    );
  }

  await refresh();
  return h("section", { class: "lab-page", dataset: { lab: name } }, h("h1", {}, name), actions, message, body, progress.element);
}
