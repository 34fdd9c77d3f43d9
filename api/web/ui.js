// Small DOM helpers. Everything the API says lands in text nodes or attributes, never
// in HTML, so nothing a name or a message holds can become markup.

import { t } from "./i18n.js";

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** An error box: the API's message and its hint. */
export function errorBox(error) {
  return h(
    "div",
    { class: "error", role: "alert" },
    h("strong", {}, error.status === 403 ? t("forbidden") : t("error")),
    ": ",
    error.message,
    error.hint ? h("div", { class: "hint" }, `${t("hint")}: ${error.hint}`) : null,
  );
}

/**
 * A table that turns into stacked cards on a narrow screen (a phone): each cell carries
 * its column's name for the CSS to show beside it.
 */
export function table(columns, rows, { rowAttrs } = {}) {
  const head = h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c.label))));
  const body = h(
    "tbody",
    {},
    rows.map((row) =>
      h(
        "tr",
        rowAttrs ? rowAttrs(row) : {},
        columns.map((c) => h("td", { "data-label": c.label, class: c.class }, c.cell(row))),
      ),
    ),
  );
  return h("div", { class: "table-wrap" }, h("table", { class: "responsive" }, head, body));
}

export function button(label, onclick, attrs = {}) {
  return h("button", { type: "button", onclick, ...attrs }, label);
}

export function link(label, href, attrs = {}) {
  return h("a", { href, ...attrs }, label);
}
