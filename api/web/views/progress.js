// Live progress of operations: a panel that follows each operation's server-sent
// events and shows its lines as they come, then how it ended.

import { follow } from "../api.js";
import { t, when } from "../i18n.js";
import { errorBox, h } from "../ui.js";

export function progressPanel(context) {
  const list = h("ol", { class: "progress-lines" });
  const element = h(
    "section",
    { class: "progress card", id: "progress", "aria-live": "polite", hidden: true },
    h("h2", {}, t("progress")),
    list,
  );
  const controller = new AbortController();
  context.leave(() => controller.abort());

  /** Follow `op`; resolves with the operation as it ended (or null when left). */
  async function track(op) {
    element.hidden = false;
    const names = { kind: op.kind, target: op.target };
    // One item per operation: how it stands, and its lines (a list may hold only items).
    const status = h("div", { class: "op-status running", "data-op": op.id }, t("opRunning", names));
    // Its own scrolling box: the keyboard reaches it too.
    const lines = h("ul", { class: "op-events", tabindex: 0, "aria-label": t("progress") });
    list.prepend(h("li", { class: "op" }, status, lines));
    try {
      const ended = await follow(
        op,
        (event) => {
          lines.append(h("li", {}, h("time", {}, when(event.at)), " ", event.subject, ": ", event.message));
          while (lines.children.length > 200) lines.firstChild.remove();
        },
        controller.signal,
      );
      const key = { succeeded: "opSucceeded", failed: "opFailed", canceled: "opCanceled" }[ended.status];
      status.className = `op-status ${ended.status}`;
      status.textContent = t(key || "opRunning", { ...names, error: ended.error });
      if (ended.status === "failed" && ended.hint) {
        status.append(h("div", { class: "hint" }, `${t("hint")}: ${ended.hint}`));
      }
      return ended;
    } catch (error) {
      if (controller.signal.aborted) return null;
      status.replaceChildren(errorBox(error));
      return null;
    }
  }

  return { element, track };
}
