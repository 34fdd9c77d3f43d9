// A trainee's course: the task panel above their machines. The course's tasks in order
// with what they did with each, the current task's instructions, a check run from the
// host side, hints one at a time, and starting the task again from its checkpoint.
// Everything comes from /api/v1/labs/SEAT/course: the rules (order, points, attempts)
// live on the server, the page only shows them.

import { api } from "../api.js";
import { pick, pickLang, seconds, t, when } from "../i18n.js";
import { button, errorBox, h } from "../ui.js";

export const SYMBOL = { done: "✓", failing: "✗", "not-started": "○" };
export const STATE_WORDS = { done: "taskDone", failing: "taskFailing", "not-started": "taskNotStarted" };

/**
 * The course panel of lab `name` ({element, reload}), or null when its class runs no
 * course. `progress` follows a restart like a reset; `onRestarted` is told after one.
 */
export async function coursePanel(context, name, { progress, onRestarted = () => {} }) {
  let data;
  try {
    data = await api(`/api/v1/labs/${name}/course`);
  } catch (error) {
    if (error.status === 404) return null;
    // The machines stay usable when the course cannot be shown.
    const element = h("section", { class: "course card", id: "course" }, errorBox(error));
    return { element, reload: async () => {} };
  }
  const url = `/api/v1/labs/${name}/course`;
  const element = h("section", { class: "course card", id: "course", "aria-labelledby": "course-title" });
  // Kept across redraws so that what is said there is announced once, where it was.
  const result = h("div", { id: "check-result", class: "check-result", "aria-live": "polite", hidden: true });
  const message = h("div", { class: "course-message", "aria-live": "polite" });
  let busy = false;
  let hintsList = null;

  function draw() {
    const active = document.activeElement;
    const focused = active && element.contains(active) ? active.id : "";
    element.dataset.course = data.course;
    element.dataset.current = data.current || "";
    element.replaceChildren(
      h("div", { class: "course-head" },
        h("h2", { id: "course-title" }, pick(data.title)),
        h(
          "p",
          { class: "course-points", id: "course-points" },
          t("coursePoints", { earned: data.earned, points: data.points }),
        ),
      ),
      taskList(data),
      data.task ? taskBox(data.task) : finished(data),
      message,
    );
    setBusy(busy);
    if (focused) document.getElementById(focused)?.focus();
  }

  function taskBox(task) {
    const hint = button(hintLabel(task.hints_left), takeHint, { id: "hint-button", class: "course-action" });
    hint.dataset.left = String(task.hints_left);
    const restart = button(t("restartTask"), () => {
      if (busy) return;
      asking.hidden = false;
      asking.querySelector("#restart-confirm").focus();
    }, { id: "restart-task", class: "course-action ghost" });
    const cancel = () => {
      asking.hidden = true;
      restart.focus();
    };
    const asking = h(
      "div",
      {
        class: "confirm",
        id: "restart-box",
        role: "group",
        "aria-labelledby": "restart-question",
        hidden: true,
        onkeydown: (event) => event.key === "Escape" && cancel(),
      },
      h("p", { id: "restart-question" }, t("restartConfirm")),
      h(
        "div",
        { class: "toolbar" },
        button(t("restartYes"), () => {
          asking.hidden = true;
          restartTask();
        }, { id: "restart-confirm", class: "primary" }),
        button(t("cancel"), cancel, { id: "restart-cancel" }),
      ),
    );
    hintsList = h(
      "ol",
      { id: "hints", class: "hints", "aria-live": "polite", "aria-label": t("hintsTitle") },
      task.hints.map((text) => h("li", { lang: pickLang(text) }, withCode(pick(text)))),
    );
    return h(
      "article",
      { class: "task", id: "task", dataset: { task: task.id } },
      h("h3", { id: "task-title", tabindex: "-1" }, t("taskHeading", { n: task.number, title: pick(task.title) })),
      h(
        "p",
        { class: "muted task-facts" },
        t("taskMachine", { machine: task.machine }),
        " · ",
        t("pointsShort", { n: task.points }),
        task.started_at ? [" · ", t("taskStarted", { at: when(task.started_at) })] : null,
      ),
      h(
        "div",
        { class: "instructions", id: "task-instructions", lang: pickLang(task.instructions_html) },
        instructions(pick(task.instructions_html)),
      ),
      h(
        "div",
        { class: "toolbar" },
        button(t("checkTask"), runCheck, { id: "check-task", class: "primary course-action" }),
        hint,
        restart,
      ),
      asking,
      result,
      h("h4", { class: "hints-title", hidden: task.hints.length === 0 }, t("hintsTitle")),
      hintsList,
    );
  }

  function finished(course) {
    const all = course.tasks.length > 0 && course.tasks.every((task) => task.state === "done");
    return h(
      "div",
      { class: "course-end" },
      result,
      all
        ? h(
            "p",
            { class: "course-done", id: "course-done" },
            "★ ",
            t("courseDone", { earned: course.earned, points: course.points }),
          )
        : h("p", { class: "muted" }, t("courseNoTask")),
    );
  }

  // While a check, a hint or a restart runs the buttons stay where they are (so that
  // keyboard focus does not jump) but say so and do nothing. (No aria-busy on the
  // panel: it would hold back what its live regions say meanwhile.)
  function setBusy(on, doing) {
    busy = on;
    for (const action of element.querySelectorAll(".course-action")) {
      const off = on || (action.id === "hint-button" && Number(action.dataset.left) <= 0);
      action.setAttribute("aria-disabled", String(off));
    }
    const check = element.querySelector("#check-task");
    if (check) check.textContent = on && doing === "check" ? t("checking") : t("checkTask");
  }

  async function reload() {
    data = await api(url);
    if (context.current()) draw();
  }

  async function runCheck() {
    if (busy) return;
    setBusy(true, "check");
    message.replaceChildren();
    result.hidden = false;
    delete result.dataset.ok;
    result.replaceChildren(h("p", { class: "muted" }, t("checkingLong")));
    try {
      const outcome = await api(`${url}/check`, { method: "POST" });
      if (!context.current()) return;
      await reload();
      showOutcome(outcome);
    } catch (error) {
      result.hidden = true;
      result.replaceChildren();
      message.replaceChildren(errorBox(error));
    } finally {
      setBusy(false);
    }
  }

  function showOutcome(outcome) {
    const next = outcome.advanced_to ? data.tasks.find((task) => task.id === outcome.advanced_to) : null;
    let summary;
    if (!outcome.ok) summary = t("checkFailed");
    else if (next) summary = t("checkPassedNext", { title: pick(next.title) });
    else if (!data.task) summary = t("checkPassedAll");
    else summary = t("checkPassed");
    const note = typeof outcome.note === "string" ? outcome.note : outcome.note ? pick(outcome.note) : "";
    result.dataset.ok = String(outcome.ok);
    result.dataset.task = outcome.task;
    result.hidden = false;
    // (replaceChildren would write a null as the word "null": only elements go in)
    result.replaceChildren(
      h("p", { class: "check-summary" }, outcome.ok ? "✓ " : "✗ ", summary),
      h(
        "ul",
        { class: "check-lines" },
        outcome.checks.map((check) =>
          h(
            "li",
            { dataset: { ok: String(check.ok), kind: check.kind } },
            h("span", { class: "mark" }, check.ok ? "✓" : "✗"),
            " ",
            h("span", { lang: pickLang(check.message) }, pick(check.message)),
            check.machine ? h("span", { class: "muted" }, ` (${check.machine})`) : null,
          ),
        ),
      ),
      ...(note ? [h("p", { class: "muted" }, note)] : []),
      h("p", { class: "muted small" }, t("checkedAt", { at: when(outcome.at), took: seconds(outcome.seconds) })),
    );
  }

  async function takeHint() {
    const task = data.task;
    if (busy || !task || task.hints_left <= 0) return;
    setBusy(true, "hint");
    message.replaceChildren();
    try {
      const got = await api(`${url}/hint`, { method: "POST" });
      if (!context.current() || !data.task || data.task.id !== got.task) return;
      task.hints = [...task.hints, got.hint];
      task.hints_left = got.hints_left;
      hintsList.append(h("li", { lang: pickLang(got.hint) }, withCode(pick(got.hint))));
      element.querySelector(".hints-title").hidden = false;
      const hint = element.querySelector("#hint-button");
      hint.dataset.left = String(got.hints_left);
      hint.textContent = hintLabel(got.hints_left);
    } catch (error) {
      message.replaceChildren(errorBox(error));
    } finally {
      setBusy(false);
    }
  }

  async function restartTask() {
    if (busy) return;
    setBusy(true, "restart");
    message.replaceChildren();
    result.hidden = true;
    result.replaceChildren();
    try {
      const op = await api(`${url}/restart`, { method: "POST" });
      // The progress panel is below the machines: say here too that it runs.
      message.replaceChildren(h("p", { class: "muted" }, t("restartRunning")));
      const ended = await progress.track(op);
      if (!context.current()) return;
      await reload();
      const ok = ended && ended.status === "succeeded";
      message.replaceChildren(h("p", { class: ok ? "ok" : "warn" }, t(ok ? "restartDone" : "restartFailed")));
      onRestarted();
    } catch (error) {
      message.replaceChildren(errorBox(error));
    } finally {
      setBusy(false);
      element.querySelector("#restart-task")?.focus();
    }
  }

  draw();
  return {
    element,
    reload: () => reload().catch((error) => message.replaceChildren(errorBox(error))),
  };
}

function hintLabel(left) {
  return left > 0 ? t("hintButton", { n: left }) : t("hintNone");
}

/** The task list: every task in order, its state in a symbol and words. */
function taskList(course) {
  return h(
    "ol",
    { class: "course-tasks", id: "course-tasks", "aria-label": t("courseTasks") },
    course.tasks.map((task) => {
      const current = task.id === course.current;
      const dataset = { task: task.id, state: task.state, ...(current ? { current: "true" } : {}) };
      return h(
        "li",
        { dataset, "aria-current": current ? "step" : null },
        h("span", { class: `badge state-${task.state}` }, stateWords(task)),
        current ? h("span", { class: "badge current" }, "▶ ", t("taskCurrent")) : null,
        " ",
        h("span", { class: "task-name", lang: pickLang(task.title) }, pick(task.title)),
        h("span", { class: "muted" }, " · ", t("pointsShort", { n: task.points })),
      );
    }),
  );
}

export function stateWords(task) {
  const words = `${SYMBOL[task.state] || "?"} ${t(STATE_WORDS[task.state] || "taskNotStarted")}`;
  return task.state === "failing" && task.attempts ? `${words} · ${t("attempts", { n: task.attempts })}` : words;
}

// Elements and attributes the instructions may keep: what Markdown makes, nothing that
// runs, loads, styles or submits.
const KEEP = new Set(
  ("p br hr h1 h2 h3 h4 h5 h6 ul ol li dl dt dd strong em b i u s del sup sub code pre kbd samp " +
    "blockquote a img table thead tbody tr th td span div").split(" "),
);
const SKIP = new Set(
  ("script style iframe frame object embed template svg math form input button textarea select " +
    "link meta base noscript audio video canvas").split(" "),
);
const ATTRIBUTES = {
  a: ["href", "title"],
  img: ["src", "alt", "title"],
  th: ["colspan", "rowspan"],
  td: ["colspan", "rowspan"],
  ol: ["start"],
};

/**
 * The one piece of HTML the page shows that it did not build itself: a task's
 * instructions, rendered from Markdown and sanitised by the server. It is parsed into an
 * inert document (nothing in it runs or loads) and copied element by element into the
 * page, keeping only the markup above, so even a slip on the server cannot bring a
 * script, a style or a form in. Nothing is ever written into the page as markup.
 */
export function instructions(html) {
  const parsed = new DOMParser().parseFromString(String(html || ""), "text/html");
  return copyChildren(parsed.body);
}

function copyChildren(node) {
  const out = [];
  for (const child of node.childNodes) {
    if (child.nodeType === Node.TEXT_NODE) {
      out.push(document.createTextNode(child.data));
      continue;
    }
    if (child.nodeType !== Node.ELEMENT_NODE) continue;
    const tag = child.localName;
    if (SKIP.has(tag)) continue;
    if (!KEEP.has(tag)) {
      out.push(...copyChildren(child)); // unknown markup: its text stays
      continue;
    }
    const kept = {};
    for (const name of ATTRIBUTES[tag] || []) {
      const value = child.getAttribute(name);
      if (value === null) continue;
      if ((name === "href" || name === "src") && !safeUrl(value, name)) continue;
      kept[name] = value;
    }
    if (tag === "img" && !kept.src) {
      // A picture from elsewhere would not load (the page's policy): its words stay.
      if (kept.alt) out.push(document.createTextNode(kept.alt));
      continue;
    }
    // A link that lost its address is only its words; the instructions' headings sit
    // under the task's own (h3): `#` is an h4.
    const heading = /^h[1-6]$/.test(tag) ? `h${Math.min(6, Number(tag[1]) + 3)}` : null;
    const el = document.createElement(heading || (tag === "a" && !kept.href ? "span" : tag));
    for (const [name, value] of Object.entries(kept)) el.setAttribute(name, value);
    if (el.localName === "a") {
      el.setAttribute("rel", "noopener noreferrer");
      if (/^https?:/i.test(kept.href)) el.setAttribute("target", "_blank");
    }
    el.append(...copyChildren(child));
    out.push(el);
  }
  return out;
}

function safeUrl(value, name) {
  // As a browser reads it: spaces and control characters inside a scheme are dropped.
  const url = value.replace(/[\u0000-\u0020\u007f]/g, "");
  if (name === "src") return /^(data:image\/(png|gif|jpeg|webp);|\/(?!\/))/i.test(url);
  return /^(https?:|mailto:|#|\/(?!\/))/i.test(url) || !/^[a-z][a-z0-9+.-]*:/i.test(url);
}

// A hint is plain text in which `backticks` mark a command: those parts are set as code
// (as text nodes: nothing in a hint is read as markup).
function withCode(text) {
  return String(text)
    .split("`")
    .map((part, i) => (i % 2 ? h("code", {}, part) : part));
}
