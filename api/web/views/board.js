// The trainer's live board of a class that runs a course: seats × tasks, each cell what
// the seat did with the task (a symbol and words, never colour alone), with its
// trainees, points and time on the current task. Updated from the board's event stream
// without reloading the page; the class's results download as CSV or PDF.

import { api, download, watch } from "../api.js";
import { clock, lang, pick, pickLang, t, when } from "../i18n.js";
import { button, errorBox, h } from "../ui.js";
import { STATE_WORDS, SYMBOL } from "./course.js";

const TICK_MS = 5000; // the time on task counts on in the page between updates

/** The board of class `name` (its first state `first`); `progress` follows restarts. */
export function courseBoard(context, name, first, { progress }) {
  let board = first;
  const busy = new Set(); // seats with a restart of ours running
  const controller = new AbortController();
  context.leave(() => controller.abort());

  const title = h("h2", { id: "board-title" });
  const live = h(
    "span",
    { class: "live", id: "board-live", role: "status", dataset: { state: "connecting" } },
    t("boardConnecting"),
  );
  // The table scrolls sideways inside its box (a phone, a long course); the box takes
  // keyboard focus so that it can be scrolled without a mouse.
  const wrap = h("div", { class: "board-wrap", tabindex: "0", role: "region", "aria-labelledby": "board-title" });
  const message = h("div", { "aria-live": "polite" });

  function draw() {
    const focused = document.activeElement;
    const seat = focused && focused !== wrap && wrap.contains(focused) ? focused.closest("tr")?.dataset.boardSeat : null;
    const left = wrap.scrollLeft;
    title.replaceChildren(t("boardTitle"), ": ", h("span", { lang: pickLang(board.title) }, pick(board.title)));
    wrap.replaceChildren(boardTable(board, busy, restart));
    wrap.scrollLeft = left;
    if (seat) focusSeat(seat);
    tick();
  }

  function focusSeat(seat) {
    const row = [...wrap.querySelectorAll("tr[data-board-seat]")].find((found) => found.dataset.boardSeat === seat);
    row?.querySelector("button.restart-task")?.focus();
  }

  function tick() {
    const now = Date.now();
    for (const el of wrap.querySelectorAll("time[data-since]")) {
      el.textContent = clock(Math.max(0, (now - Date.parse(el.dataset.since)) / 1000));
    }
  }

  function setLive(state, error) {
    const words = { live: "boardLive", reconnecting: "boardReconnecting", failed: "boardFailed" };
    live.dataset.state = state;
    live.textContent = t(words[state] || "boardConnecting");
    if (error) message.replaceChildren(errorBox(error));
  }

  async function restart(seat) {
    if (busy.has(seat) || !window.confirm(t("boardRestartConfirm", { seat }))) return;
    busy.add(seat);
    draw();
    message.replaceChildren();
    try {
      const op = await api(`/api/v1/labs/${seat}/course/restart`, { method: "POST" });
      await progress.track(op);
    } catch (error) {
      message.replaceChildren(errorBox(error));
    } finally {
      busy.delete(seat);
      if (context.current()) {
        draw();
        // Its button was disabled meanwhile, which lost the keyboard's place: back to it.
        if (document.activeElement === document.body) focusSeat(seat);
      }
    }
  }

  async function save(which, control) {
    message.replaceChildren();
    control.setAttribute("aria-busy", "true");
    try {
      const path =
        which === "csv" ? `/api/v1/classes/${name}/results.csv` : `/api/v1/classes/${name}/results.pdf?lang=${lang()}`;
      await download(path, `results-${name}.${which}`, { signal: controller.signal });
    } catch (error) {
      if (!controller.signal.aborted) message.replaceChildren(errorBox(error));
    } finally {
      control.removeAttribute("aria-busy");
    }
  }

  const csv = button(t("resultsCsv"), () => save("csv", csv), { id: "results-csv" });
  const pdf = button(t("resultsPdf"), () => save("pdf", pdf), { id: "results-pdf" });
  draw();
  const timer = setInterval(tick, TICK_MS);
  context.leave(() => clearInterval(timer));
  watch(`/api/v1/classes/${name}/board/events`, {
    signal: controller.signal,
    onState: setLive,
    onEvent: (event) => {
      if (event.name !== "board") return;
      try {
        board = JSON.parse(event.data);
      } catch {
        return; // half a message from a cut stream: the next one comes whole
      }
      if (context.current()) draw();
    },
  });

  return h(
    "section",
    { class: "board", id: "board", dataset: { course: board.course } },
    h("div", { class: "board-head" }, title, live),
    h("div", { class: "toolbar" }, csv, pdf),
    message,
    wrap,
  );
}

function boardTable(board, busy, restart) {
  const total = board.points ?? board.tasks.reduce((sum, task) => sum + task.points, 0);
  const head = h(
    "tr",
    {},
    h("th", { scope: "col" }, t("seat")),
    h("th", { scope: "col" }, t("boardTrainees")),
    h("th", { scope: "col" }, t("boardPoints")),
    h("th", { scope: "col" }, t("boardOnTask")),
    board.tasks.map((task, i) =>
      h(
        "th",
        { scope: "col", class: "task-col", dataset: { task: task.id } },
        `${i + 1}. `,
        h("span", { lang: pickLang(task.title) }, pick(task.title)),
        h("div", { class: "muted small" }, t("pointsShort", { n: task.points })),
      ),
    ),
    h("th", { scope: "col" }, t("actions")),
  );
  const rows = board.seats.map((seat) => {
    const done = new Map(seat.tasks.map((entry) => [entry.id, entry]));
    const running = busy.has(seat.seat);
    return h(
      "tr",
      // Not data-seat: the class's seats table above has rows by that name.
      { dataset: { boardSeat: seat.seat, current: seat.current || "" } },
      h("th", { scope: "row" }, seat.seat),
      h("td", { class: "trainees" }, seat.trainees.length ? seat.trainees.join(", ") : "—"),
      h("td", { class: "earned" }, t("pointsOf", { earned: seat.earned, points: total })),
      h(
        "td",
        { class: "on-task" },
        seat.current && seat.task_started_at
          ? h("time", {
              datetime: seat.task_started_at,
              title: when(seat.task_started_at),
              dataset: { since: seat.task_started_at },
            })
          : "—",
      ),
      board.tasks.map((task) => cell(task, done.get(task.id), task.id === seat.current)),
      h(
        "td",
        {},
        button(running ? t("boardRestarting") : t("boardRestart"), () => restart(seat.seat), {
          class: "restart-task",
          disabled: running || !seat.current,
          "aria-label": t("boardRestartSeat", { seat: seat.seat }),
        }),
      ),
    );
  });
  return h("table", { class: "board-table" }, h("thead", {}, head), h("tbody", {}, rows));
}

function cell(task, entry, current) {
  const state = entry ? entry.state : "not-started";
  const dataset = { task: task.id, state, ...(current ? { current: "true" } : {}) };
  const facts = [];
  if (entry && entry.attempts) facts.push(t("attempts", { n: entry.attempts }));
  if (entry && entry.hints_taken) facts.push(t("hintsTaken", { n: entry.hints_taken }));
  if (entry && state === "done" && entry.seconds_on_task != null) facts.push(clock(entry.seconds_on_task));
  return h(
    "td",
    {
      class: `cell state-${state}`,
      dataset,
      title: entry && entry.passed_at ? t("passedAt", { at: when(entry.passed_at) }) : null,
    },
    h("span", { class: "cell-state" }, SYMBOL[state] || "?", " ", t(STATE_WORDS[state] || "taskNotStarted")),
    current ? h("div", { class: "cell-current" }, "▶ ", t("taskCurrent")) : null,
    facts.length ? h("div", { class: "cell-facts" }, facts.join(" · ")) : null,
  );
}
