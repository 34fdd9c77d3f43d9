// The software catalogue, for engineers: the products × communities matrix (the
// recommended stack's column first), one product, the vendors' permissions still
// outstanding, the data formats in use, and the unification report (each community
// against the recommended stack, also as a PDF). Everything is read-only.

import { api, download } from "../api.js";
import { locale, t } from "../i18n.js";
import { button, errorBox, h, link, table } from "../ui.js";

const KIND_WORDS = {
  os: "kindOs",
  "document-flow": "kindDocumentFlow",
  accounting: "kindAccounting",
  portal: "kindPortal",
  registry: "kindRegistry",
  office: "kindOffice",
  database: "kindDatabase",
  mail: "kindMail",
  "file-server": "kindFileServer",
  directory: "kindDirectory",
  "web-server": "kindWebServer",
  security: "kindSecurity",
  education: "kindEducation",
  package: "kindPackage",
  other: "kindOther",
};

const PERMISSION_WORDS = {
  "not-needed": "permNotNeeded",
  none: "permNone",
  requested: "permRequested",
  granted: "permGranted",
};

const PAGES = [
  ["#/catalogue", "catalogueMatrix"],
  ["#/catalogue/permissions", "cataloguePermissions"],
  ["#/catalogue/formats", "catalogueFormats"],
  ["#/catalogue/unification", "catalogueUnification"],
];

function kindWord(kind) {
  return KIND_WORDS[kind] ? t(KIND_WORDS[kind]) : kind;
}

function permissionWord(state) {
  return PERMISSION_WORDS[state] ? t(PERMISSION_WORDS[state]) : state;
}

/**
 * A table as ui.js makes it (cards on a phone), each cell's content in one element: a
 * card's cell is a grid of its label and one value, which several would break.
 */
function cardTable(columns, rows, options) {
  return table(
    columns.map((c) => ({ ...c, cell: (row) => h("div", {}, c.cell(row)) })),
    rows,
    options,
  );
}

/** What a screen reader says where the eye sees a sign. */
function spoken(text) {
  return h("span", { class: "sr-only" }, text);
}

function sign(text) {
  return h("span", { "aria-hidden": "true" }, text);
}

export function productHref(product) {
  return `#/catalogue/products/${encodeURIComponent(product)}`;
}

function day(iso) {
  if (!iso) return "—";
  const [year, month, date] = iso.split("-").map(Number);
  const text = new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeZone: "UTC" }).format(
    new Date(Date.UTC(year, month - 1, date)),
  );
  return h("time", { datetime: iso }, text);
}

// The catalogue's own menu (its views, and the CSV of every entry), above each view.
function header(current, message) {
  const csv = button(t("catalogueCsv"), () => save("/api/v1/catalogue/export.csv", "catalogue.csv", csv, message), {
    id: "catalogue-csv",
  });
  return h(
    "div",
    { class: "catalogue-head" },
    h(
      "nav",
      { class: "subnav", "aria-label": t("catalogueTitle") },
      PAGES.map(([href, key]) => link(t(key), href, { "aria-current": href === current ? "page" : null })),
    ),
    csv,
  );
}

// A file fetched with the token (a plain link cannot carry it) and saved.
async function save(path, filename, control, message) {
  message.replaceChildren();
  control.setAttribute("aria-busy", "true");
  try {
    await download(path, filename);
  } catch (error) {
    message.replaceChildren(errorBox(error));
  } finally {
    control.removeAttribute("aria-busy");
  }
}

function page(current, title, message, ...content) {
  return h(
    "section",
    { class: "catalogue" },
    h("h1", {}, title),
    header(current, message),
    message,
    ...content,
  );
}

// ---- The matrix -------------------------------------------------------------------

export async function catalogueView(context, kind) {
  const message = h("div", { "aria-live": "polite", id: "catalogue-message" });
  const counts = h("p", { class: "muted", id: "catalogue-counts", "aria-live": "polite" });
  const box = h("div", { id: "catalogue-matrix" });
  const select = h(
    "select",
    { id: "catalogue-kind" },
    h("option", { value: "" }, t("catalogueAllKinds")),
    Object.keys(KIND_WORDS).map((k) => h("option", { value: k, selected: k === kind }, kindWord(k))),
  );

  async function load(chosen) {
    const query = chosen ? `?kind=${encodeURIComponent(chosen)}` : "";
    const matrix = await api(`/api/v1/catalogue${query}`);
    if (!context.current()) return;
    counts.textContent = t("catalogueCounts", { products: matrix.products.length, profiles: matrix.profiles.length });
    box.replaceChildren(...matrixParts(matrix));
  }

  select.addEventListener("change", async () => {
    // The filter is kept in the address (to bookmark or share) without drawing anew.
    history.replaceState(null, "", select.value ? `#/catalogue?kind=${select.value}` : "#/catalogue");
    try {
      await load(select.value);
    } catch (error) {
      box.replaceChildren(errorBox(error));
    }
  });
  await load(kind || "");
  return page(
    "#/catalogue",
    t("catalogueTitle"),
    message,
    h("p", {}, t("catalogueIntro")),
    h(
      "div",
      { class: "toolbar" },
      h("label", { for: "catalogue-kind" }, t("catalogueKind")),
      select,
    ),
    counts,
    h(
      "p",
      { class: "legend small", id: "catalogue-legend" },
      t("catalogueLegendRecommended"),
      " · ",
      t("catalogueLegendDiffers"),
      " · ",
      t("catalogueLegendAbsent"),
      " · ",
      t("catalogueLegendUnknown"),
    ),
    box,
  );
}

function matrixParts(matrix) {
  const parts = [];
  if (matrix.invalid.length) {
    parts.push(
      h(
        "div",
        { class: "error", role: "status", id: "catalogue-invalid" },
        h("strong", {}, t("catalogueInvalid")),
        h("ul", {}, matrix.invalid.map((p) => h("li", {}, h("code", {}, p.name), ": ", p.error))),
      ),
    );
  }
  if (!matrix.recommended) parts.push(h("p", { class: "warn" }, t("catalogueNoRecommended")));
  if (!matrix.products.length) {
    parts.push(h("p", {}, t("catalogueEmpty")));
    return parts;
  }
  const head = h(
    "tr",
    {},
    h("th", { scope: "col", class: "corner" }, t("catalogueProduct")),
    matrix.profiles.map((p) =>
      h(
        "th",
        { scope: "col", class: p.recommended ? "recommended" : null, dataset: { profile: p.name } },
        p.recommended
          ? h("div", { class: "badge current" }, sign("★ "), t("catalogueRecommended"))
          : null,
        h("div", {}, p.title || p.community),
        h("div", { class: "muted small" }, p.name),
      ),
    ),
  );
  const rows = matrix.products.map((row) =>
    h(
      "tr",
      { dataset: { product: row.product, kind: row.kind } },
      h(
        "th",
        { scope: "row" },
        link(row.product, productHref(row.product), { class: "product-link" }),
        h(
          "div",
          { class: "muted small" },
          kindWord(row.kind),
          row.recommended_version === null && matrix.recommended ? ` · ${t("catalogueNotInStack")}` : "",
        ),
      ),
      matrix.profiles.map((p) => versionCell(row, p)),
    ),
  );
  parts.push(
    h(
      "div",
      { class: "matrix-wrap", tabindex: "0", role: "region", "aria-label": t("catalogueMatrix") },
      h(
        "table",
        { class: "matrix", id: "catalogue-table" },
        h("caption", { class: "sr-only" }, t("catalogueMatrixCaption")),
        h("thead", {}, head),
        h("tbody", {}, rows),
      ),
    ),
  );
  return parts;
}

function versionCell(row, profile) {
  const versions = row.versions[profile.name];
  const cls = profile.recommended ? "recommended" : "";
  if (versions === undefined) {
    return h("td", { class: `${cls} absent`, dataset: { profile: profile.name, state: "absent" } }, sign("—"), spoken(t("catalogueAbsentWord")));
  }
  if (!versions.length) {
    return h("td", { class: `${cls} unknown`, dataset: { profile: profile.name, state: "unknown" } }, sign("?"), spoken(t("catalogueUnknownWord")));
  }
  const text = versions.join(", ");
  // Several versions wrap between them, never inside one.
  const shown = versions.map((v, i) => [i ? ", " : "", h("span", { class: "version" }, v)]);
  const differs = !profile.recommended && row.recommended_version !== null && text !== row.recommended_version;
  if (!differs) {
    return h("td", { class: cls, dataset: { profile: profile.name, state: "same" } }, shown);
  }
  return h(
    "td",
    {
      class: `${cls} differs`,
      dataset: { profile: profile.name, state: "differs" },
      title: t("catalogueDiffersFrom", { version: row.recommended_version }),
    },
    sign("≠ "),
    shown,
    spoken(` (${t("catalogueDiffersFrom", { version: row.recommended_version })})`),
  );
}

// ---- One product ------------------------------------------------------------------

export async function catalogueProductView(context, encoded) {
  let name;
  try {
    name = decodeURIComponent(encoded);
  } catch {
    name = encoded;
  }
  const message = h("div", { "aria-live": "polite", id: "catalogue-message" });
  const [found, matrix] = await Promise.all([
    api(`/api/v1/catalogue/products/${encodeURIComponent(name)}`),
    api("/api/v1/catalogue"),
  ]);
  const recommended = matrix.recommended;
  const ours = new Set(found.entries.filter((e) => e.profile === recommended).flatMap((e) => (e.version ? [e.version] : [])));
  const outOfSupport = found.entries.filter((e) => e.out_of_support).length;
  const kinds = [...new Set(found.entries.map((e) => kindWord(e.kind)))].join(", ");
  return page(
    null,
    t("catalogueProductTitle", { product: found.product }),
    message,
    h("p", {}, link(t("catalogueBackToMatrix"), "#/catalogue")),
    h(
      "p",
      { id: "product-summary" },
      `${t("catalogueKindColumn")}: ${kinds}. `,
      recommended
        ? ours.size
          ? t("catalogueProductRecommended", { version: [...ours].sort().join(", ") })
          : t("catalogueProductNotInStack")
        : t("catalogueNoRecommended"),
      outOfSupport ? [" ", h("strong", { class: "warn" }, t("catalogueOutOfSupportCount", { n: outOfSupport }))] : null,
    ),
    scrolling(
      cardTable(
        [
          {
            label: t("catalogueCommunity"),
            cell: (e) => [
              e.profile === recommended ? h("span", { class: "badge current" }, sign("★ "), t("catalogueRecommended")) : null,
              h("div", {}, e.title || e.community),
              h("div", { class: "muted small" }, e.profile),
            ],
          },
          { label: t("machine"), cell: (e) => e.machine },
          { label: t("catalogueVersion"), cell: (e) => productVersion(e, recommended, ours) },
          {
            label: t("catalogueVendor"),
            cell: (e) => [h("div", {}, e.vendor || "—"), e.licence ? h("div", { class: "muted small" }, e.licence) : null],
          },
          { label: t("cataloguePermission"), cell: (e) => permission(e.permission) },
          { label: t("catalogueFormatsColumn"), cell: (e) => formatList(e.formats) },
          {
            label: t("catalogueSupportEnds"),
            cell: (e) => [
              day(e.support_ends),
              e.out_of_support ? h("div", { class: "badge bad out-of-support" }, sign("⚠ "), t("catalogueOutOfSupport")) : null,
            ],
          },
          { label: t("cataloguePackage"), cell: (e) => (e.package ? h("code", {}, e.package) : "—") },
        ],
        // The recommended stack's first, as in the matrix.
        [...found.entries].sort((a, b) => (b.profile === recommended) - (a.profile === recommended)),
        {
          rowAttrs: (e) => ({
            dataset: { profile: e.profile, machine: e.machine, outOfSupport: e.out_of_support ? "true" : "false" },
          }),
        },
      ),
      t("catalogueProductTitle", { product: found.product }),
    ),
  );
}

// A table wider than the screen scrolls in its box, which the keyboard can reach.
function scrolling(wrapped, label) {
  wrapped.setAttribute("tabindex", "0");
  wrapped.setAttribute("role", "region");
  wrapped.setAttribute("aria-label", label);
  return wrapped;
}

function productVersion(entry, recommended, ours) {
  if (!entry.version) return [sign("?"), spoken(t("catalogueUnknownWord"))];
  if (entry.profile === recommended || !ours.size || ours.has(entry.version)) return entry.version;
  const stack = [...ours].sort().join(", ");
  return h(
    "span",
    { class: "differs", title: t("catalogueDiffersFrom", { version: stack }) },
    sign("≠ "),
    entry.version,
    spoken(` (${t("catalogueDiffersFrom", { version: stack })})`),
  );
}

function permission(value) {
  const cls = value.state === "granted" || value.state === "not-needed" ? "ok" : value.state === "none" ? "bad" : "busy";
  return [
    h("span", { class: `badge ${cls}`, dataset: { permission: value.state } }, permissionWord(value.state)),
    value.reference ? h("div", { class: "small" }, value.reference) : null,
  ];
}

function formatList(formats) {
  if (!formats.reads.length && !formats.writes.length) return "—";
  return h(
    "div",
    { class: "small" },
    formats.reads.length ? h("div", {}, `${t("catalogueReads")}: ${formats.reads.join(", ")}`) : null,
    formats.writes.length ? h("div", {}, `${t("catalogueWrites")}: ${formats.writes.join(", ")}`) : null,
  );
}

// ---- Permissions outstanding --------------------------------------------------------

export async function cataloguePermissionsView() {
  const message = h("div", { "aria-live": "polite", id: "catalogue-message" });
  const found = await api("/api/v1/catalogue/permissions");
  return page(
    "#/catalogue/permissions",
    t("cataloguePermissionsTitle"),
    message,
    h("p", {}, t("cataloguePermissionsIntro")),
    found.entries.length
      ? h(
          "div",
          { id: "catalogue-permissions" },
          cardTable(
            [
              { label: t("catalogueProduct"), cell: (e) => link(e.product, productHref(e.product)) },
              { label: t("catalogueCommunity"), cell: (e) => [h("div", {}, e.title || e.community), h("div", { class: "muted small" }, e.profile)] },
              { label: t("machine"), cell: (e) => e.machine },
              { label: t("catalogueVendor"), cell: (e) => e.vendor || "—" },
              { label: t("catalogueVersion"), cell: (e) => e.version || "?" },
              { label: t("cataloguePermission"), cell: (e) => permission(e.permission) },
            ],
            found.entries,
            { rowAttrs: (e) => ({ dataset: { product: e.product, profile: e.profile, permission: e.permission.state } }) },
          ),
        )
      : h("p", { class: "ok", id: "catalogue-permissions" }, t("cataloguePermissionsNone")),
  );
}

// ---- Data formats -------------------------------------------------------------------

export async function catalogueFormatsView() {
  const message = h("div", { "aria-live": "polite", id: "catalogue-message" });
  const found = await api("/api/v1/catalogue/formats");
  return page(
    "#/catalogue/formats",
    t("catalogueFormatsTitle"),
    message,
    h("p", {}, t("catalogueFormatsIntro")),
    found.formats.length
      ? h(
          "div",
          { id: "catalogue-formats" },
          cardTable(
            [
              { label: t("catalogueFormat"), cell: (f) => h("code", {}, f.format) },
              { label: t("catalogueReadBy"), cell: (f) => uses(f.reads) },
              { label: t("catalogueWrittenBy"), cell: (f) => uses(f.writes) },
            ],
            found.formats,
            { rowAttrs: (f) => ({ dataset: { format: f.format } }) },
          ),
        )
      : h("p", { id: "catalogue-formats" }, t("nothing")),
  );
}

// Who uses a format, by product: "АСКОД — stack, town".
function uses(list) {
  if (!list.length) return "—";
  const byProduct = new Map();
  for (const use of list) {
    if (!byProduct.has(use.product)) byProduct.set(use.product, []);
    byProduct.get(use.product).push(use.profile);
  }
  return h(
    "ul",
    { class: "uses small" },
    [...byProduct].map(([product, profiles]) => h("li", {}, h("strong", {}, product), " — ", profiles.join(", "))),
  );
}

// ---- The unification report ---------------------------------------------------------

export async function catalogueUnificationView() {
  const message = h("div", { "aria-live": "polite", id: "catalogue-message" });
  let report;
  try {
    report = await api("/api/v1/catalogue/unification");
  } catch (error) {
    if (error.status !== 409) throw error;
    // No recommended stack (or several): what to do, in the catalogue's frame.
    return page("#/catalogue/unification", t("catalogueUnificationTitle"), message, errorBox(error));
  }
  const pdf = button(
    t("catalogueUnificationPdf"),
    () => save("/api/v1/catalogue/unification.pdf", "unification.pdf", pdf, message),
    { id: "unification-pdf", class: "primary" },
  );
  const sections = report.communities.map(communitySection);
  return page(
    "#/catalogue/unification",
    t("catalogueUnificationTitle"),
    message,
    h("p", {}, t("catalogueUnificationIntro", { profile: report.recommended })),
    h("div", { class: "toolbar" }, pdf),
    report.communities.length
      ? [
          h("h2", {}, t("catalogueUnificationSummary")),
          h("div", { id: "unification-summary" }, summary(report.communities, sections)),
          sections,
        ]
      : h("p", {}, t("catalogueUnificationNone")),
  );
}

function summary(communities, sections) {
  const byProfile = new Map(communities.map((c, i) => [c.profile, sections[i]]));
  const jump = (c) =>
    link(c.title || c.community, `#/catalogue/unification`, {
      onclick: (event) => {
        event.preventDefault();
        const heading = byProfile.get(c.profile).querySelector("h2");
        heading.scrollIntoView({ block: "start" });
        heading.focus();
      },
    });
  return cardTable(
    [
      { label: t("catalogueCommunity"), cell: (c) => [h("div", {}, jump(c)), h("div", { class: "muted small" }, c.profile)] },
      { label: t("catalogueMissing"), cell: (c) => String(c.missing.length) },
      { label: t("catalogueExtra"), cell: (c) => String(c.extra.length) },
      { label: t("catalogueOtherVersions"), cell: (c) => String(c.versions.length) },
      { label: t("catalogueOtherFormats"), cell: (c) => String(c.formats.length) },
    ],
    communities,
    { rowAttrs: (c) => ({ dataset: { profile: c.profile } }) },
  );
}

function communitySection(c) {
  const same = !(c.missing.length || c.extra.length || c.versions.length || c.formats.length);
  const titleId = `unification-${c.profile}`;
  return h(
    "section",
    { class: "community-diff card", dataset: { profile: c.profile }, "aria-labelledby": titleId },
    h("h2", { id: titleId, tabindex: "-1" }, c.title || c.community, " ", h("span", { class: "muted small" }, `(${c.profile})`)),
    same
      ? h("p", { class: "ok" }, sign("✓ "), t("catalogueSame"))
      : [
          c.missing.length ? part("missing", t("catalogueMissing"), productsTable(c.missing)) : null,
          c.extra.length ? part("extra", t("catalogueExtra"), productsTable(c.extra)) : null,
          c.versions.length
            ? part(
                "versions",
                t("catalogueOtherVersions"),
                cardTable(
                  [
                    { label: t("catalogueProduct"), cell: (v) => link(v.product, productHref(v.product)) },
                    { label: t("catalogueRecommendedVersion"), cell: (v) => v.recommended || "?" },
                    { label: t("catalogueTheirVersion"), cell: (v) => [sign("≠ "), v.theirs.join(", ") || "?"] },
                  ],
                  c.versions,
                  { rowAttrs: (v) => ({ dataset: { product: v.product } }) },
                ),
              )
            : null,
          c.formats.length
            ? part(
                "formats",
                t("catalogueOtherFormats"),
                cardTable(
                  [
                    { label: t("catalogueProduct"), cell: (f) => link(f.product, productHref(f.product)) },
                    { label: t("catalogueRecommendedFormats"), cell: (f) => formatList(f.recommended) },
                    { label: t("catalogueTheirFormats"), cell: (f) => formatList(f.theirs) },
                    { label: t("catalogueDifference"), cell: (f) => formatDifference(f) },
                  ],
                  c.formats,
                  { rowAttrs: (f) => ({ dataset: { product: f.product } }) },
                ),
              )
            : null,
        ],
  );
}

function part(name, title, content) {
  return h("div", { class: "diff-part", dataset: { part: name } }, h("h3", {}, title), content);
}

function productsTable(products) {
  return cardTable(
    [
      { label: t("catalogueProduct"), cell: (p) => link(p.product, productHref(p.product)) },
      { label: t("catalogueVersion"), cell: (p) => p.version || "?" },
      { label: t("catalogueKindColumn"), cell: (p) => kindWord(p.kind) },
    ],
    products,
    { rowAttrs: (p) => ({ dataset: { product: p.product } }) },
  );
}

// In words, not colours: what the community's product reads or writes besides the
// stack's, and what it does not.
function formatDifference(f) {
  const lines = [];
  const compare = (ours, theirs, more, less) => {
    const added = theirs.filter((x) => !ours.includes(x));
    const lacking = ours.filter((x) => !theirs.includes(x));
    if (added.length) lines.push(h("div", {}, `${t(more)}: ${added.join(", ")}`));
    if (lacking.length) lines.push(h("div", {}, `${t(less)}: ${lacking.join(", ")}`));
  };
  compare(f.recommended.reads, f.theirs.reads, "catalogueReadsAlso", "catalogueReadsNot");
  compare(f.recommended.writes, f.theirs.writes, "catalogueWritesAlso", "catalogueWritesNot");
  return h("div", { class: "small" }, lines.length ? lines : "—");
}
