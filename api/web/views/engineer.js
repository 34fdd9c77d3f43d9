// The engineer's views: labs and templates, images, operations with their progress, the
// audit log. A tester sees the labs and templates too: they clone labs from templates.

import { api } from "../api.js";
import { bytes, t, when } from "../i18n.js";
import { button, errorBox, h, link, table } from "../ui.js";
import { progressPanel } from "./progress.js";

const STAFF = ["admin", "engineer"];

export async function labsView(context) {
  const staff = STAFF.includes(context.user.role);
  const cloning = staff || context.user.role === "tester"; // who may see templates
  const progress = progressPanel(context);
  const message = h("div", { "aria-live": "polite", id: "labs-message" });
  const labsBox = h("div", { id: "labs" });
  const templatesBox = h("div", { id: "templates-list" });

  async function refresh() {
    const [labs, templates] = await Promise.all([
      api("/api/v1/labs"),
      cloning ? api("/api/v1/templates") : [],
    ]);
    if (!context.current()) return;
    labsBox.replaceChildren(labsTable(labs));
    templatesBox.replaceChildren(templatesTable(templates));
  }

  // Start an operation (a template, a clone), follow it, then show the lists anew.
  async function run(request, body) {
    message.replaceChildren();
    try {
      const op = await api(request, { method: "POST", body });
      await progress.track(op);
    } catch (error) {
      message.replaceChildren(errorBox(error));
    }
    if (context.current()) await refresh().catch((error) => message.replaceChildren(errorBox(error)));
  }

  function makeTemplate(lab) {
    const name = askName(t("templateMakeAsk", { lab: lab.name }), `${lab.name}-tpl`);
    if (name) run("/api/v1/templates", { lab: lab.name, name });
  }

  function cloneTemplate(template) {
    const name = askName(t("templateCloneAsk", { name: template.name }), "");
    if (name) run("/api/v1/labs", { template: template.name, name });
  }

  async function deleteTemplate(template) {
    if (!window.confirm(t("templateDeleteConfirm", { name: template.name }))) return;
    message.replaceChildren();
    try {
      await api(`/api/v1/templates/${template.name}`, { method: "DELETE" });
      message.append(h("p", { class: "ok" }, t("templateDeleted", { name: template.name })));
    } catch (error) {
      message.append(errorBox(error)); // in use (409): which labs, and what to do
    }
    if (context.current()) await refresh().catch((error) => message.replaceChildren(errorBox(error)));
  }

  function labsTable(labs) {
    if (!labs.length) return h("p", {}, t("nothing"));
    return table(
      [
        { label: "Lab", cell: (l) => link(l.name, `#/labs/${l.name}`) },
        { label: t("profile"), cell: (l) => l.profile },
        { label: t("state"), cell: (l) => t(`lab_${l.status}`) },
        { label: t("machines"), cell: (l) => l.machines.map((m) => `${m.name} (${m.address})`).join(", ") },
        { label: t("templateOf"), cell: (l) => l.template || "—" },
        { label: t("created"), cell: (l) => when(l.created_at) },
        {
          label: t("actions"),
          cell: (l) =>
            staff && l.verified
              ? button(t("templateMake"), () => makeTemplate(l), { class: "template-make" })
              : null,
        },
      ],
      labs,
      { rowAttrs: (l) => ({ dataset: { lab: l.name } }) },
    );
  }

  function templatesTable(templates) {
    if (!templates.length) return h("p", { class: "muted" }, t("templatesNone"));
    return table(
      [
        { label: t("name"), cell: (tp) => h("strong", {}, tp.name) },
        { label: t("profile"), cell: (tp) => tp.profile },
        { label: t("templateSourceLab"), cell: (tp) => tp.source_lab },
        { label: t("size"), cell: (tp) => bytes(tp.size) },
        { label: t("templateUsedBy"), cell: (tp) => tp.used_by.join(", ") || "—" },
        { label: t("created"), cell: (tp) => when(tp.created_at) },
        {
          label: t("actions"),
          cell: (tp) =>
            h(
              "span",
              { class: "actions" },
              button(t("templateClone"), () => cloneTemplate(tp), { class: "template-clone" }),
              staff
                ? button(t("templateDelete"), () => deleteTemplate(tp), { class: "template-delete ghost" })
                : null,
            ),
        },
      ],
      templates,
      { rowAttrs: (tp) => ({ dataset: { template: tp.name } }) },
    );
  }

  await refresh();
  // Templates being made and labs being cloned, started before we came here: followed too.
  api("/api/v1/operations")
    .then((ops) => {
      for (const op of ops) {
        if (!["template", "clone"].includes(op.kind) || !["pending", "running"].includes(op.status)) continue;
        progress.track(op).then(() => context.current() && refresh().catch(() => {}));
      }
    })
    .catch(() => {});
  return h(
    "section",
    {},
    h("h1", {}, t("labsTitle")),
    message,
    labsBox,
    progress.element,
    cloning ? h("section", { id: "templates" }, h("h2", {}, t("templatesTitle")), templatesBox) : null,
  );
}

// A name for what is to be made (a template, a lab): lowercase letters, digits, '-'.
function askName(question, proposed) {
  const answer = window.prompt(question, proposed);
  return answer ? answer.trim().toLowerCase() : "";
}

export async function imagesView() {
  const images = await api("/api/v1/images");
  return h(
    "section",
    {},
    h("h1", {}, t("imagesTitle")),
    images.length
      ? table(
          [
            { label: t("name"), cell: (i) => h("strong", {}, i.name) },
            { label: t("size"), cell: (i) => `${bytes(i.disk_size)} / ${bytes(i.virtual_size)}` },
            { label: t("digest"), cell: (i) => h("code", { title: i.digest }, i.digest.slice(0, 16)) },
            { label: t("source"), cell: (i) => i.source },
            { label: t("created"), cell: (i) => when(i.created_at ?? i.created) },
          ],
          images,
        )
      : h("p", {}, t("nothing")),
  );
}

export async function operationsView(context) {
  const box = h("div", { id: "operations" }, operationsTable(await api("/api/v1/operations")));
  // While any operation runs, the list follows it (its status and last progress line).
  const timer = setInterval(async () => {
    if (!box.querySelector("tr[data-status='running'], tr[data-status='pending']")) return;
    try {
      box.replaceChildren(operationsTable(await api("/api/v1/operations")));
    } catch {
      // shown again at the next look
    }
  }, 2000);
  context.leave(() => clearInterval(timer));
  return h("section", {}, h("h1", {}, t("operationsTitle")), box);
}

function operationsTable(ops) {
  return ops.length
      ? table(
          [
            { label: "ID", cell: (o) => link(o.id.slice(0, 8), `#/operations/${o.id}`) },
            { label: t("kind"), cell: (o) => o.kind },
            { label: t("target"), cell: (o) => o.target },
            { label: t("status"), cell: (o) => h("span", { class: `badge op-${o.status}` }, t(`op_${o.status}`)) },
            { label: t("progress"), cell: (o) => o.error || o.progress },
            { label: t("user"), cell: (o) => o.created_by },
            { label: t("created"), cell: (o) => when(o.created_at) },
          ],
          ops,
          { rowAttrs: (o) => ({ dataset: { op: o.id, status: o.status } }) },
        )
      : h("p", {}, t("nothing"));
}

export async function operationView(context, id) {
  const op = await api(`/api/v1/operations/${id}`);
  const progress = progressPanel(context);
  progress.track(op);
  return h(
    "section",
    {},
    h("h1", {}, t("operationTitle", { id: id.slice(0, 8) })),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, t("kind")),
      h("dd", {}, op.kind),
      h("dt", {}, t("target")),
      h("dd", {}, op.target),
      h("dt", {}, t("user")),
      h("dd", {}, op.created_by),
      h("dt", {}, t("created")),
      h("dd", {}, when(op.created_at)),
    ),
    progress.element,
  );
}

export async function auditView(context) {
  const input = h("input", { type: "search", id: "audit-filter", placeholder: t("filter"), "aria-label": t("filter") });
  const box = h("div", {});
  const load = async () => {
    const query = input.value.trim() ? `?target=${encodeURIComponent(input.value.trim())}` : "";
    try {
      const entries = await api(`/api/v1/audit${query}`);
      if (!context.current()) return;
      box.replaceChildren(
        entries.length
          ? table(
              [
                { label: t("at"), cell: (e) => when(e.at) },
                { label: t("user"), cell: (e) => e.user },
                { label: t("action"), cell: (e) => h("code", {}, e.action) },
                { label: t("target"), cell: (e) => e.target },
                { label: t("result"), cell: (e) => e.result },
              ],
              entries,
            )
          : h("p", {}, t("nothing")),
      );
    } catch (error) {
      box.replaceChildren(errorBox(error));
    }
  };
  input.addEventListener("change", load);
  await load();
  return h("section", {}, h("h1", {}, t("auditTitle")), h("div", { class: "toolbar" }, input), box);
}
