// The engineer's views: labs, images, operations with their progress, the audit log.

import { api } from "../api.js";
import { bytes, t, when } from "../i18n.js";
import { errorBox, h, link, table } from "../ui.js";
import { progressPanel } from "./progress.js";

export async function labsView() {
  const labs = await api("/api/v1/labs");
  return h(
    "section",
    {},
    h("h1", {}, t("labsTitle")),
    labs.length
      ? table(
          [
            { label: "Lab", cell: (l) => link(l.name, `#/labs/${l.name}`) },
            { label: t("profile"), cell: (l) => l.profile },
            { label: t("state"), cell: (l) => t(`lab_${l.status}`) },
            { label: t("machines"), cell: (l) => l.machines.map((m) => `${m.name} (${m.address})`).join(", ") },
            { label: t("created"), cell: (l) => when(l.created_at) },
          ],
          labs,
          { rowAttrs: (l) => ({ dataset: { lab: l.name } }) },
        )
      : h("p", {}, t("nothing")),
  );
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
