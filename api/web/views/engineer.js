// The engineer's views: labs and templates, images, operations with their progress, the
// audit log. A tester sees the labs and templates too: they clone labs from templates.

import { api } from "../api.js";
import { bytes, t, when } from "../i18n.js";
import { confirmDialog } from "../dialog.js";
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
        { label: t("labName"), cell: (l) => link(l.name, `#/labs/${l.name}`) },
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

// Images with what uses them; staff remove an unused one (asked first, by name) and
// prune the old builds nothing uses (what that frees is said before and after).
export async function imagesView(context) {
  const staff = STAFF.includes(context.user.role);
  const message = h("div", { "aria-live": "polite", id: "images-message" });
  const box = h("div", { id: "images" });

  async function refresh() {
    const images = await api("/api/v1/images");
    if (context.current()) box.replaceChildren(imagesTable(images));
  }

  async function remove(image) {
    const yes = await confirmDialog({
      id: "image-remove-dialog",
      title: t("imageRemoveTitle", { name: image.name }),
      body: t("imageRemoveBody"),
      confirm: t("imageRemoveConfirm"),
    });
    if (!yes) return;
    message.replaceChildren();
    try {
      await api(`/api/v1/images/${image.name}`, { method: "DELETE" });
      message.append(h("p", { class: "ok" }, t("imageRemoved", { name: image.name })));
    } catch (error) {
      message.append(errorBox(error)); // in use meanwhile (409): by what, and what to do
    }
    await refresh().catch((error) => message.replaceChildren(errorBox(error)));
  }

  async function prune() {
    message.replaceChildren();
    try {
      const found = await api("/api/v1/images/prune?dry_run=true", { method: "POST" });
      if (!found.builds.length) {
        message.append(h("p", { class: "ok", id: "prune-result" }, t("imagePruneNone")));
        return;
      }
      const yes = await confirmDialog({
        id: "image-prune-dialog",
        title: t("imagePruneTitle"),
        body: t("imagePruneBody", { n: found.builds.length, size: bytes(found.bytes_freed) }),
        confirm: t("imagePruneConfirm"),
      });
      if (!yes) return;
      const done = await api("/api/v1/images/prune", { method: "POST" });
      message.append(
        h("p", { class: "ok", id: "prune-result" }, t("imagePruned", { n: done.builds.length, size: bytes(done.bytes_freed) })),
        prunedTable(done.builds),
      );
    } catch (error) {
      message.append(errorBox(error));
    }
  }

  function imagesTable(images) {
    if (!images.length) return h("p", {}, t("nothing"));
    return table(
      [
        { label: t("name"), cell: (i) => h("strong", {}, i.name) },
        { label: t("size"), cell: (i) => `${bytes(i.disk_size)} / ${bytes(i.virtual_size)}` },
        { label: t("digest"), cell: (i) => h("code", { title: i.digest }, i.digest.slice(0, 16)) },
        { label: t("source"), cell: (i) => i.source },
        { label: t("created"), cell: (i) => when(i.created_at ?? i.created) },
        { label: t("imageUsedBy"), cell: (i) => usedBy(i.used_by), class: "used-by" },
        staff
          ? {
              label: t("actions"),
              cell: (i) =>
                i.used_by.length
                  ? null
                  : button(t("imageRemove"), () => remove(i), {
                      class: "image-remove ghost",
                      "aria-label": `${t("imageRemove")} ${i.name}`,
                    }),
            }
          : null,
      ].filter(Boolean),
      images,
      { rowAttrs: (i) => ({ dataset: { image: i.name, used: i.used_by.length ? "yes" : "no" } }) },
    );
  }

  await refresh();
  return h(
    "section",
    {},
    h("h1", {}, t("imagesTitle")),
    staff ? h("div", { class: "toolbar" }, button(t("imagePrune"), prune, { id: "image-prune" })) : null,
    message,
    box,
  );
}

// "lab NAME" and "template NAME" from the API, in the page's words.
function usedBy(users) {
  if (!users.length) return h("span", { class: "muted" }, t("imageUnused"));
  return users
    .map((u) => {
      const [kind, name] = u.split(" ", 2);
      return t(kind === "template" ? "imageUsedByTemplate" : "imageUsedByLab", { name });
    })
    .join(", ");
}

function prunedTable(builds) {
  return table(
    [
      { label: t("imageBuild"), cell: (b) => h("code", { title: b.digest }, b.digest.slice(0, 16)) },
      { label: t("source"), cell: (b) => b.source },
      { label: t("created"), cell: (b) => when(b.created) },
      { label: t("size"), cell: (b) => bytes(b.bytes) },
    ],
    builds,
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
            { label: t("opId"), cell: (o) => link(o.id.slice(0, 8), `#/operations/${o.id}`) },
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
                { label: t("result"), cell: (e) => resultWord(e.result) },
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

// An audit entry's result: an HTTP status as it is, an operation's end in words.
function resultWord(result) {
  return ["succeeded", "failed", "canceled"].includes(result) ? t(`op_${result}`) : result;
}
