// The trainer's view: their classes; per seat its state, whether it is verified ready,
// the last reset and how long it took; resetting a seat or the whole class with live
// progress; scheduling a class reset; the access sheet; and, when the class runs a
// course, its live board (views/board.js).

import { api } from "../api.js";
import { seconds, t, when } from "../i18n.js";
import { button, errorBox, h, link, table } from "../ui.js";
import { courseBoard } from "./board.js";
import { progressPanel } from "./progress.js";

const REFRESH_MS = 15000;

export async function classesView() {
  const classes = await api("/api/v1/classes");
  const body = classes.length
    ? table(
        [
          { label: t("className"), cell: (c) => link(c.name, `#/classes/${c.name}`) },
          { label: t("profile"), cell: (c) => c.profile },
          { label: t("seats"), cell: (c) => String(c.seats.length) },
          { label: t("created"), cell: (c) => when(c.created_at) },
        ],
        classes,
      )
    : h("p", {}, t("classesNone"));
  return h("section", {}, h("h1", {}, t("classesTitle")), body);
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
  );
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
