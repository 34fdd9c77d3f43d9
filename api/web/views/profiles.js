// The catalogue's profiles for staff: the list with whether each is valid, and one
// profile's preview (what a lab of it would be, its topology drawn), with forms to start
// a lab or a class from it and the operation followed live.

import { api } from "../api.js";
import { t } from "../i18n.js";
import { errorBox, h, link, table } from "../ui.js";
import { progressPanel } from "./progress.js";
import { topologyPicture } from "./topology.js";

export async function profilesView(context) {
  const profiles = await api("/api/v1/profiles");
  return h(
    "section",
    {},
    h("h1", {}, t("navProfiles")),
    profiles.length
      ? table(
          [
            { label: t("profile"), cell: (p) => (p.valid ? link(p.name, `#/profiles/${p.name}`) : p.name) },
            { label: t("profileTitle"), cell: (p) => p.title || "—" },
            { label: t("machines"), cell: (p) => String(p.machines) },
            { label: t("profileValidity"), cell: (p) => (p.valid ? t("profileValid") : `${t("profileInvalid")}: ${p.error}`) },
          ],
          profiles,
          { rowAttrs: (p) => ({ "data-profile": p.name, "data-valid": String(p.valid) }) },
        )
      : h("p", {}, t("nothing")),
  );
}

function field(id, label, attrs = {}) {
  return [h("label", { for: id }, label), h("input", { id, name: id, autocomplete: "off", spellcheck: "false", autocapitalize: "none", ...attrs })];
}

export async function profileView(context, name) {
  const preview = await api(`/api/v1/profiles/${name}/preview`);
  const progress = progressPanel(context);
  const staff = ["admin", "engineer"].includes(context.user.role);
  const message = h("div", { id: "start-message", "aria-live": "polite" });

  async function start(event, request, body, done) {
    event.preventDefault();
    const submit = event.target.querySelector("button[type=submit]");
    submit.disabled = true;
    message.replaceChildren();
    try {
      const op = await api(request, { method: "POST", body });
      const ended = await progress.track(op);
      if (ended && ended.status === "succeeded" && context.current()) message.replaceChildren(done(body));
    } catch (error) {
      message.replaceChildren(errorBox(error));
    } finally {
      submit.disabled = false;
    }
  }

  const [labName, labInput] = field("start-lab-name", t("labName"), { required: true, pattern: "[a-z0-9][a-z0-9-]*", value: name });
  const [hostName, hostInput] = field("start-lab-host", t("startHost"), { pattern: "[a-z0-9][a-z0-9-]*" });
  const labForm = h(
    "form",
    { id: "start-lab-form", class: "card" },
    h("h2", {}, t("startLab")),
    labName,
    labInput,
    hostName,
    hostInput,
    h("button", { type: "submit", class: "primary" }, t("startLabButton")),
  );
  labForm.addEventListener("submit", (event) => {
    const body = { profile: name, name: labInput.value.trim() };
    if (hostInput.value.trim()) body.host = hostInput.value.trim();
    start(event, "/api/v1/labs", body, (b) => h("p", { class: "ok" }, t("labReady"), " ", link(b.name, `#/labs/${b.name}`, { id: "new-lab-link" })));
  });
  const [className, classInput] = field("start-class-name", t("className"), { required: true, pattern: "[a-z0-9][a-z0-9-]*" });
  const [seatsLabel, seatsInput] = field("start-class-seats", t("seats"), { type: "number", min: 1, max: 40, value: 1, required: true });
  const classForm = h(
    "form",
    { id: "start-class-form", class: "card" },
    h("h2", {}, t("startClass")),
    className,
    classInput,
    seatsLabel,
    seatsInput,
    h("button", { type: "submit", class: "primary" }, t("startClassButton")),
  );
  classForm.addEventListener("submit", (event) => {
    const body = { profile: name, name: classInput.value.trim(), seats: Number(seatsInput.value) };
    start(event, "/api/v1/classes", body, (b) => h("p", { class: "ok" }, link(b.name, `#/classes/${b.name}`)));
  });

  return h(
    "section",
    { class: "profile-preview" },
    h("p", {}, link(`← ${t("navProfiles")}`, "#/profiles")),
    h("h1", {}, t("previewTitle", { name })),
    h("p", { class: "muted" }, preview.title, " · ", t("previewNote")),
    h("h2", {}, t("topology")),
    h("div", { class: "topology-wrap", tabindex: 0, role: "group", "aria-label": t("topology") }, topologyPicture({ ...preview.topology, lab: name })),
    h("h2", {}, t("machines")),
    machinesTable(preview.machines),
    h("h2", {}, t("networks")),
    table(
      [
        { label: t("network"), cell: (n) => n.name },
        { label: t("cidr"), cell: (n) => n.cidr },
      ],
      preview.networks,
    ),
    h("h2", {}, t("accounts")),
    preview.accounts.length
      ? table(
          [
            { label: t("account"), cell: (a) => a.name },
            { label: t("accountKind"), cell: (a) => a.kind },
            { label: t("groups"), cell: (a) => a.groups.join(", ") || "—" },
          ],
          preview.accounts,
        )
      : h("p", {}, t("nothing")),
    h("h2", {}, t("tests")),
    preview.tests.length
      ? table(
          [
            { label: t("test"), cell: (c) => c.name },
            { label: t("machine"), cell: (c) => c.machine || t("everyMachine") },
            { label: t("testKind"), cell: (c) => t(c.kind === "run" ? "testRun" : "testProbe") + (c.quick ? ` · ${t("testQuick")}` : "") },
          ],
          preview.tests,
        )
      : h("p", {}, t("nothing")),
    h("h2", {}, t("software")),
    preview.software.length
      ? table(
          [
            { label: t("machine"), cell: (p) => p.machine },
            { label: t("product"), cell: (p) => p.product },
            { label: t("vendor"), cell: (p) => p.vendor || "—" },
            { label: t("version"), cell: (p) => p.version || "—" },
          ],
          preview.software,
        )
      : h("p", {}, t("nothing")),
    staff ? h("div", { class: "start-forms" }, labForm, classForm) : null,
    message,
    progress.element,
  );
}

function machinesTable(machines) {
  return table(
    [
      { label: t("machine"), cell: (m) => m.name + (m.appliance ? ` (${t("topoAppliance")})` : "") },
      { label: t("image"), cell: (m) => m.image },
      { label: t("resources"), cell: (m) => t("resourcesSay", { memory: m.memory_mib, cpus: m.vcpus }) },
      { label: t("roles"), cell: (m) => m.roles.join(", ") || "—" },
      { label: t("addresses"), cell: (m) => m.addresses.map((a) => `${a.network}: ${a.address}`).join(", ") },
    ],
    machines,
    { rowAttrs: (m) => ({ "data-machine": m.name }) },
  );
}
