// Consoles in the browser. The serial console: xterm.js over a websocket that carries
// the guest's serial console bytes both ways (a text login). The graphical console:
// noVNC over a websocket that carries the machine's VNC display. Both open with a
// one-time ticket asked for with the session token; a refusal is shown as such.

import { api, websocketUrl } from "../api.js";
import { t } from "../i18n.js";
import { button, errorBox, h, link } from "../ui.js";

const VENDOR = "/static/vendor";

function frame(title, lab, screen, statusLine, reconnect) {
  return h(
    "section",
    { class: "console-view", dataset: { lab } },
    h("div", { class: "console-head" }, h("h1", {}, title), h("div", { class: "toolbar" }, reconnect, link(t("back"), `#/labs/${lab}`, { class: "button ghost" }))),
    statusLine,
    screen,
  );
}

function setStatus(line, state, text, extra) {
  line.dataset.state = state;
  line.replaceChildren(text, extra || "");
}

async function ticket(lab, machine, kind) {
  return api(`/api/v1/labs/${lab}/machines/${machine}/console-ticket`, { method: "POST", body: { kind } });
}

export async function consoleView(context, lab, machine) {
  const statusLine = h("div", { class: "console-status", id: "console-status", role: "status" });
  const screen = h("div", { class: "terminal", id: "terminal" });
  let term;
  let socket;
  let opened = false;
  const connect = async () => {
    socket?.close();
    opened = false;
    setStatus(statusLine, "connecting", t("consoleConnecting"));
    let grant;
    try {
      grant = await ticket(lab, machine, "serial");
    } catch (error) {
      setStatus(statusLine, error.status === 403 ? "refused" : "failed", t(error.status === 403 ? "consoleRefused" : "consoleFailed"), errorBox(error));
      return;
    }
    socket = new WebSocket(websocketUrl(grant.url, grant.ticket));
    socket.binaryType = "arraybuffer";
    socket.onopen = () => {
      opened = true;
      setStatus(statusLine, "connected", t("consoleConnected"));
      socket.send("\r"); // the guest's getty prints its login prompt again
      term.focus();
    };
    socket.onmessage = (event) => term.write(new Uint8Array(event.data));
    socket.onclose = (event) => {
      if (!context.current()) return;
      if (opened) setStatus(statusLine, "ended", t("consoleEnded", { reason: event.reason || event.code }));
      else setStatus(statusLine, "refused", t("consoleRefused"));
    };
  };
  const reconnect = button(t("reconnect"), connect, { id: "console-reconnect" });
  const view = frame(t("consoleTitle", { lab, machine }), lab, screen, statusLine, reconnect);

  let xterm;
  let fit;
  try {
    [xterm, fit] = await Promise.all([import(`${VENDOR}/xterm/xterm.mjs`), import(`${VENDOR}/xterm/addon-fit.mjs`)]);
  } catch {
    setStatus(statusLine, "failed", t("consoleMissingLib"));
    return view;
  }
  stylesheet(`${VENDOR}/xterm/xterm.css`);
  term = new xterm.Terminal({ cursorBlink: true, fontSize: 15, scrollback: 5000, convertEol: false });
  const fitter = new fit.FitAddon();
  term.loadAddon(fitter);
  term.onData((data) => socket?.readyState === WebSocket.OPEN && socket.send(data));
  // Opened once the view is in the page (xterm measures its box), then connected.
  requestAnimationFrame(() => {
    if (!context.current()) return;
    term.open(screen);
    fitter.fit();
    connect();
  });
  const resize = () => fitter.fit();
  window.addEventListener("resize", resize);
  context.leave(() => {
    window.removeEventListener("resize", resize);
    socket?.close();
    term.dispose();
  });
  return view;
}

export async function vncView(context, lab, machine) {
  const statusLine = h("div", { class: "console-status", id: "console-status", role: "status" });
  const screen = h("div", { class: "vnc-screen", id: "vnc-screen" });
  let rfb;
  let RFB;
  const connect = async () => {
    rfb?.disconnect();
    setStatus(statusLine, "connecting", t("consoleConnecting"));
    let grant;
    try {
      grant = await ticket(lab, machine, "vnc");
    } catch (error) {
      setStatus(statusLine, error.status === 403 ? "refused" : "failed", t(error.status === 403 ? "consoleRefused" : "consoleFailed"), errorBox(error));
      return;
    }
    let connected = false;
    rfb = new RFB(screen, websocketUrl(grant.url, grant.ticket), { wsProtocols: ["binary"] });
    rfb.scaleViewport = true;
    rfb.resizeSession = false;
    rfb.addEventListener("connect", () => {
      connected = true;
      setStatus(statusLine, "connected", t("consoleConnected"));
      rfb.focus();
    });
    rfb.addEventListener("disconnect", () => {
      if (!context.current()) return;
      setStatus(statusLine, connected ? "ended" : "refused", connected ? t("consoleEnded", { reason: "" }) : t("consoleRefused"));
    });
  };
  const reconnect = button(t("reconnect"), connect, { id: "console-reconnect" });
  const view = frame(t("vncTitle", { lab, machine }), lab, screen, statusLine, reconnect);
  try {
    ({ default: RFB } = await import(`${VENDOR}/novnc/core/rfb.js`));
  } catch {
    setStatus(statusLine, "failed", t("consoleMissingLib"));
    return view;
  }
  context.leave(() => rfb?.disconnect());
  // noVNC measures its target: connect once the view is in the page.
  requestAnimationFrame(() => context.current() && connect());
  return view;
}

function stylesheet(href) {
  if (document.querySelector(`link[href="${href}"]`)) return;
  document.head.append(h("link", { rel: "stylesheet", href }));
}
