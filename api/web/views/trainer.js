// The trainer's view: their classes; per seat its state, whether it is verified ready,
// the last reset and how long it took; resetting a seat or the whole class with live
// progress; scheduling a class reset; the access sheet; and, when the class runs a
// course, its live board (views/board.js).

import { api } from "../api.js";
import { seconds, t, when } from "../i18n.js";
import { confirmDialog } from "../dialog.js";
import { button, errorBox, h, link, table } from "../ui.js";
import { courseBoard } from "./board.js";
import { progressPanel } from "./progress.js";

const REFRESH_MS = 15000;

// A message for the class list from the view before it (a class just deleted).
let flash = null;

export async function classesView(context) {
  // What a class can be made from; a server that offers no such list (403, 404) gets no
  // form, any other failure is said where the form would be.
  const [classes, sources] = await Promise.all([
    api("/api/v1/classes"),
    api("/api/v1/class-sources").catch((error) => ([403, 404].includes(error.status) ? null : error)),
  ]);
  const body = classes.length
    ? table(
        [
          { label: t("className"), cell: (c) => link(c.name, `#/classes/${c.name}`) },
          { label: t("profile"), cell: (c) => c.profile },
          { label: t("seats"), cell: (c) => String(c.seats.length) },
          { label: t("created"), cell: (c) => when(c.created_at) },
        ],
        classes,
        { rowAttrs: (c) => ({ dataset: { class: c.name } }) },
      )
    : h("p", {}, t("classesNone"));
  const said = flash ? h("p", { class: "ok", id: "classes-message" }, flash) : null;
  flash = null;
  return h(
    "section",
    {},
    h("h1", {}, t("classesTitle")),
    h("div", { "aria-live": "polite" }, said),
    h("div", { id: "classes" }, body),
    sources instanceof Error ? errorBox(sources) : sources ? newClassForm(context, sources) : null,
  );
}

// A new class: its name, the profile or template its seats come from, how many. The
// seats come up in an operation followed live (its lines, and each seat's state as the
// class status says it), then the class's own page opens.
function newClassForm(context, sources) {
  const name = h("input", {
    id: "new-class-name",
    required: true,
    pattern: "[a-z0-9]([a-z0-9\\-]{0,27}[a-z0-9])?",
    maxlength: 29,
    autocapitalize: "none",
    spellcheck: "false",
    autocomplete: "off",
    "aria-describedby": "new-class-name-hint",
  });
  const group = (label, items, kind) =>
    items.length
      ? h(
          "optgroup",
          { label },
          items.map((item) =>
            h("option", { value: `${kind}:${item.name}` }, kind === "profile" ? `${item.name} — ${item.title}` : `${item.name} (${item.profile})`),
          ),
        )
      : null;
  const source = h(
    "select",
    { id: "new-class-source", required: true },
    group(t("classNewProfiles"), sources.profiles, "profile"),
    group(t("classNewTemplates"), sources.templates, "template"),
  );
  const seats = h("input", { id: "new-class-seats", type: "number", min: 1, max: 50, value: 1, required: true });
  const submit = h("button", { type: "submit", class: "primary", id: "new-class-create" }, t("classNewCreate"));
  const message = h("div", { "aria-live": "polite", id: "new-class-message" });
  const seatsBox = h("div", { id: "new-class-seats-status" });
  const progress = progressPanel(context);
  const form = h(
    "form",
    { class: "card new-class", id: "new-class-form" },
    h("h2", {}, t("classNew")),
    h("label", { for: "new-class-name" }, t("classNewName")),
    name,
    h("p", { class: "muted", id: "new-class-name-hint" }, t("classNewNameHint")),
    h("label", { for: "new-class-source" }, t("classNewSource")),
    source,
    h("label", { for: "new-class-seats" }, t("classNewSeats")),
    seats,
    submit,
    message,
  );
  if (!sources.profiles.length && !sources.templates.length) {
    submit.disabled = true;
    message.append(h("p", { class: "muted" }, t("classNewNoSources")));
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const klass = name.value.trim();
    const [kind, from] = source.value.split(/:(.*)/s);
    message.replaceChildren();
    submit.disabled = true;
    let watch = null;
    try {
      const op = await api("/api/v1/classes", {
        method: "POST",
        body: { name: klass, seats: Number(seats.value), [kind]: from },
      });
      // Each seat's state while they come up (the class is recorded at the start).
      const look = async () => {
        try {
          const status = await api(`/api/v1/classes/${klass}/status`);
          if (context.current()) seatsBox.replaceChildren(h("h2", {}, t("seatsTitle")), seatStates(status));
        } catch {
          // not recorded yet: the next look
        }
      };
      watch = setInterval(look, 3000);
      context.leave(() => clearInterval(watch));
      look();
      const ended = await progress.track(op);
      clearInterval(watch);
      if (ended && ended.status === "succeeded" && context.current()) {
        location.hash = `#/classes/${klass}`;
        return;
      }
      await look();
    } catch (error) {
      message.append(errorBox(error));
    } finally {
      if (watch) clearInterval(watch);
      submit.disabled = false;
    }
  });
  return h("section", { id: "new-class" }, form, seatsBox, progress.element);
}

function seatStates(status) {
  return table(
    [
      { label: t("seat"), cell: (s) => h("strong", {}, s.seat) },
      { label: t("state"), cell: (s) => (s.status ? t(`lab_${s.status}`) : t("missing")) },
      { label: t("ready"), cell: (s) => readiness(s, false) },
    ],
    status.seats,
    { rowAttrs: (s) => ({ dataset: { seat: s.seat, ready: s.ready ? "yes" : "no" } }) },
  );
}

export async function classView(context, name) {
  const [status, schedules, klass] = await Promise.all([
    api(`/api/v1/classes/${name}/status`),
    api(`/api/v1/classes/${name}/schedules`),
    api(`/api/v1/classes/${name}`),
  ]);
  const busy = new Set(); // seats with a reset of ours running
  const progress = progressPanel(context);
  // The board when the class runs a course; the rest of the view works without it.
  let board = null;
  if (klass.course) {
    try {
      board = courseBoard(context, name, await api(`/api/v1/classes/${name}/board`), { progress });
    } catch (error) {
      board = h("section", { class: "board", id: "board" }, errorBox(error));
    }
  }
  const seatsBox = h("div", { id: "seats" });
  const scheduleBox = h("div", { id: "schedules" });
  const message = h("div", { "aria-live": "polite" });

  async function refresh() {
    try {
      const fresh = await api(`/api/v1/classes/${name}/status`);
      seatsBox.replaceChildren(seatsTable(fresh));
    } catch (error) {
      message.replaceChildren(errorBox(error));
    }
  }

  async function run(request, seats) {
    message.replaceChildren();
    for (const seat of seats) busy.add(seat);
    await refresh();
    try {
      const op = await api(request, { method: "POST" });
      await progress.track(op);
    } catch (error) {
      message.replaceChildren(errorBox(error));
    } finally {
      for (const seat of seats) busy.delete(seat);
      if (context.current()) await refresh();
    }
  }

  function seatsTable(data) {
    return table(
      [
        { label: t("seat"), cell: (s) => h("strong", {}, s.seat) },
        { label: t("state"), cell: (s) => (s.status ? t(`lab_${s.status}`) : t("missing")) },
        { label: t("ready"), cell: (s) => readiness(s, busy.has(s.seat)), class: "ready-cell" },
        {
          label: t("lastReset"),
          cell: (s) =>
            s.last_reset
              ? h("time", { datetime: s.last_reset.started_at }, when(s.last_reset.started_at), " · ", t(s.last_reset.mode === "cold" ? "modeCold" : "modeMemory"))
              : t("never"),
        },
        { label: t("took"), cell: (s) => (s.last_reset ? seconds(s.last_reset.seconds) : "—") },
        { label: t("host"), cell: (s) => s.host || "—", class: "host-cell" },
        {
          label: t("actions"),
          cell: (s) =>
            h(
              "span",
              { class: "actions" },
              button(t("resetSeat"), () => run(`/api/v1/labs/${s.seat}/reset`, [s.seat]), {
                class: "reset-seat",
                disabled: busy.has(s.seat) || !s.status,
              }),
              s.status ? link(t("console"), `#/labs/${s.seat}`, { class: "button ghost" }) : null,
            ),
        },
      ],
      data.seats,
      {
        rowAttrs: (s) => ({
          dataset: {
            seat: s.seat,
            ready: busy.has(s.seat) ? "busy" : s.ready ? "yes" : "no",
            resetAt: s.last_reset ? s.last_reset.started_at : "",
          },
        }),
      },
    );
  }

  seatsBox.append(seatsTable(status));
  scheduleBox.append(schedulesTable(schedules));
  const timer = setInterval(() => busy.size || refresh(), REFRESH_MS);
  context.leave(() => clearInterval(timer));

  // Operations of ours still running on this class (started before we came here).
  api("/api/v1/operations")
    .then((ops) => {
      const mine = new Set([`class/${name}`, ...status.seats.map((s) => `lab/${s.seat}`)]);
      for (const op of ops) {
        if (mine.has(op.target) && (op.status === "running" || op.status === "pending")) {
          progress.track(op).then(() => context.current() && refresh());
        }
      }
    })
    .catch(() => {});

  return h(
    "section",
    { class: "class-view" },
    h("h1", {}, t("classTitle", { name })),
    h("p", { class: "muted" }, `${t("profile")}: ${status.profile}`),
    h(
      "div",
      { class: "toolbar" },
      button(t("resetClass"), () => run(`/api/v1/classes/${name}/reset`, status.seats.map((s) => s.seat)), {
        class: "primary",
        id: "reset-class",
      }),
      link(t("accessSheet"), `#/classes/${name}/sheet`, { class: "button", id: "sheet-link" }),
      button(t("refresh"), refresh, { class: "ghost" }),
    ),
    message,
    board,
    board ? h("h2", {}, t("seatsTitle")) : null,
    seatsBox,
    progress.element,
    scheduleForm(name, scheduleBox),
    h("h2", {}, t("schedules")),
    scheduleBox,
    h(
      "section",
      { class: "card end-of-term", id: "class-end" },
      h("h2", {}, t("classDelete")),
      h("p", { class: "muted" }, t("classDeleteBody")),
      button(t("classDelete"), deleteClass, { class: "danger", id: "delete-class" }),
    ),
  );

  // At the end of term: asked first in a dialog, by typing the class's name.
  async function deleteClass() {
    const yes = await confirmDialog({
      id: "class-delete-dialog",
      title: t("classDeleteTitle", { name }),
      body: t("classDeleteBody"),
      confirm: t("classDeleteConfirm"),
      typed: name,
    });
    if (!yes) return;
    message.replaceChildren();
    try {
      const op = await api(`/api/v1/classes/${name}`, { method: "DELETE" });
      const ended = await progress.track(op);
      if (ended && ended.status === "succeeded" && context.current()) {
        flash = t("classDeleted", { name });
        location.hash = "#/classes";
      }
    } catch (error) {
      message.replaceChildren(errorBox(error));
    }
  }
}

function readiness(seat, busy) {
  if (busy) return h("span", { class: "badge busy" }, t("readyBusy"));
  return seat.ready
    ? h("span", { class: "badge ok" }, t("readyYes"))
    : h("span", { class: "badge bad" }, t("readyNo"));
}

function schedulesTable(schedules) {
  if (!schedules.length) return h("p", { class: "muted" }, t("nothing"));
  return table(
    [
      { label: t("at"), cell: (s) => when(s.at) },
      { label: t("mode"), cell: (s) => t(s.cold ? "modeCold" : "modeMemory") },
      { label: t("status"), cell: (s) => t(`sched_${s.status}`) },
      {
        label: t("note"),
        cell: (s) => [s.note, s.operation_id ? link(s.operation_id, `#/operations/${s.operation_id}`) : null],
      },
    ],
    schedules,
  );
}

function scheduleForm(name, box) {
  const at = h("input", { type: "datetime-local", id: "schedule-at", required: true });
  const cold = h("input", { type: "checkbox", id: "schedule-cold" });
  const message = h("div", { "aria-live": "polite" });
  const form = h(
    "form",
    { class: "card schedule", id: "schedule-form" },
    h("h2", {}, t("schedule")),
    h("label", { for: "schedule-at" }, t("scheduleAt")),
    at,
    h("label", { class: "check" }, cold, " ", t("scheduleCold")),
    h("button", { type: "submit" }, t("scheduleAdd")),
    message,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.replaceChildren();
    try {
      // The browser's local time, sent with its offset: the API needs a time zone.
      const local = new Date(at.value);
      const made = await api(`/api/v1/classes/${name}/schedules`, {
        method: "POST",
        body: { at: withOffset(local), cold: cold.checked },
      });
      message.append(h("p", { class: "ok" }, t("scheduleAdded", { at: when(made.at) })));
      box.replaceChildren(schedulesTable(await api(`/api/v1/classes/${name}/schedules`)));
    } catch (error) {
      message.append(errorBox(error));
    }
  });
  return form;
}

function withOffset(date) {
  const pad = (n) => String(Math.trunc(Math.abs(n))).padStart(2, "0");
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:00${sign}${pad(offset / 60)}:${pad(offset % 60)}`
  );
}
