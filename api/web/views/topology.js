// A lab as a picture: inline SVG with each network a bus line and each machine a box
// on it (name, roles, an appliance said in words, its address on every network). The
// picture is one image for a screen reader: its title and description list every
// machine and address, so nothing is said only by position or colour.

import { t } from "../i18n.js";

// The SVG namespace: a name, never fetched (the page loads nothing from elsewhere, and
// its test looks for addresses written out, so this one is put together).
const SVG = ["http", "//www.w3.org/2000/svg"].join(":");
const BOX_W = 220;
const GAP = 24;
const LINE = 18;
const TOP = 40;

function s(tag, attrs = {}, text = null) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  if (text !== null) el.textContent = text;
  return el;
}

/** The words that describe `topology`: one sentence per network and per machine
 * (`management`: with each machine's management address). */
export function describe(topology, management = true) {
  const nets = topology.networks.map((n) => t("topoNetwork", { name: n.name, cidr: n.cidr }));
  const machines = topology.machines.map((m) =>
    t(m.appliance ? "topoApplianceSays" : management ? "topoMachineSays" : "topoMachineSaysLocal", {
      name: m.name,
      roles: m.roles.length ? m.roles.join(", ") : t("topoNoRoles"),
      addresses: m.addresses.map((a) => `${a.network} ${a.address}`).join(", "),
      management: m.management_address,
    }),
  );
  return [...nets, ...machines].join(" ");
}

/** The picture of `topology` (GET .../topology, or a preview's). `management: false`
 * leaves the management addresses out (the access sheet: the same picture for every seat,
 * whose management addresses differ). */
export function topologyPicture(topology, id = "topology", { management = true } = {}) {
  const machines = topology.machines;
  const nets = topology.networks;
  const boxLines = (m) => (management ? 2 : 1) + (m.roles.length ? 1 : 0) + m.addresses.length;
  const boxH = Math.max(...machines.map(boxLines), 3) * LINE + 12;
  // The networks' names stand left of the machines, so no machine's link crosses them.
  const labelW = Math.max(0, ...nets.map((n) => `${n.name} ${n.cidr}`.length)) * 8 + 20;
  const left = Math.max(GAP, labelW);
  const width = Math.max(left + machines.length * (BOX_W + GAP), 420);
  const busTop = TOP + boxH + 30;
  const height = busTop + nets.length * 34 + 10;
  const svg = s("svg", {
    viewBox: `0 0 ${width} ${height}`,
    width, // its own size: a small lab is not blown up to the page's width
    role: "img",
    id,
    class: "topology",
    "aria-labelledby": `${id}-title ${id}-desc`,
    preserveAspectRatio: "xMinYMin meet",
  });
  svg.append(
    s("title", { id: `${id}-title` }, t("topoTitle", { name: topology.lab })),
    s("desc", { id: `${id}-desc` }, describe(topology, management)),
  );
  const busY = new Map(nets.map((n, i) => [n.name, busTop + i * 34]));
  nets.forEach((n) => {
    const y = busY.get(n.name);
    svg.append(
      s("line", { x1: 8, x2: width - 8, y1: y, y2: y, class: "bus", "data-network": n.name }),
      s("text", { x: 10, y: y - 5, class: "bus-label" }, `${n.name} ${n.cidr}`),
    );
  });
  machines.forEach((m, i) => {
    const x = left + i * (BOX_W + GAP);
    const group = s("g", { class: m.appliance ? "machine appliance" : "machine", "data-machine": m.name });
    m.addresses.forEach((a, k) => {
      const y = busY.get(a.network);
      if (y === undefined) return;
      const cx = x + 20 + k * 14;
      group.append(s("line", { x1: cx, x2: cx, y1: TOP + boxH, y2: y, class: "link" }), s("circle", { cx, cy: y, r: 4, class: "tap" }));
    });
    group.append(s("rect", { x, y: TOP, width: BOX_W, height: boxH, rx: 6, class: "box" }));
    const lines = [[m.name, "name"]];
    if (m.appliance) lines.push([t("topoAppliance"), "kind"]);
    if (m.roles.length) lines.push([m.roles.join(", "), "roles"]);
    for (const a of m.addresses) lines.push([`${a.network}: ${a.address}`, "address"]);
    // An appliance has no management NIC: it is known by its first address, said above.
    if (!m.appliance && management) lines.push([`${t("topoManagement")}: ${m.management_address}`, "address"]);
    lines.forEach(([text, kind], k) => {
      group.append(s("text", { x: x + 8, y: TOP + 18 + k * LINE, class: `t-${kind}` }, text));
    });
    svg.append(group);
  });
  return svg;
}
