// The page: a hash router over views, the header (menu by role, language, large type,
// log out), and the login. Every view gets its data from the JSON API only.

import { api, currentUser, forget, remember, token, whenUnauthorized } from "./api.js";
import { lang, setLang, t, translate } from "./i18n.js";
import { errorBox, h } from "./ui.js";
import { classesView, classView } from "./views/trainer.js";
import { sheetView } from "./views/sheet.js";
import { seatsView } from "./views/trainee.js";
import { labPageView } from "./views/labpage.js";
import { profilesView, profileView } from "./views/profiles.js";
import { consoleView, vncView } from "./views/console.js";
import { auditView, imagesView, labsView, operationsView, operationView } from "./views/engineer.js";
import {
  catalogueFormatsView,
  cataloguePermissionsView,
  catalogueProductView,
  catalogueUnificationView,
  catalogueView,
} from "./views/catalogue.js";

const NAME = "([a-z0-9][a-z0-9-]*)";
const ROUTES = [
  [new RegExp(`^/classes$`), classesView],
  [new RegExp(`^/classes/${NAME}$`), classView],
  [new RegExp(`^/classes/${NAME}/sheet$`), sheetView],
  [new RegExp(`^/seat$`), seatsView],
  [new RegExp(`^/labs$`), labsView],
  [new RegExp(`^/labs/${NAME}$`), labPageView],
  [new RegExp(`^/profiles$`), profilesView],
  [new RegExp(`^/profiles/${NAME}$`), profileView],
  [new RegExp(`^/console/${NAME}/${NAME}$`), consoleView],
  [new RegExp(`^/vnc/${NAME}/${NAME}$`), vncView],
  [new RegExp(`^/images$`), imagesView],
  [new RegExp(`^/operations$`), operationsView],
  [new RegExp(`^/operations/([A-Za-z0-9_-]+)$`), operationView],
  [new RegExp(`^/audit$`), auditView],
  [new RegExp(`^/catalogue(?:\\?kind=([a-z-]+))?$`), catalogueView],
  [new RegExp(`^/catalogue/products/([^/?#]+)$`), catalogueProductView],
  [new RegExp(`^/catalogue/permissions$`), cataloguePermissionsView],
  [new RegExp(`^/catalogue/formats$`), catalogueFormatsView],
  [new RegExp(`^/catalogue/unification$`), catalogueUnificationView],
];
const STAFF = ["admin", "engineer"];

// What each role finds in the menu, and where it starts.
function menu(role) {
  const items = [];
  if (role === "trainer" || STAFF.includes(role)) items.push(["#/classes", "navClasses"]);
  if (role === "trainee") items.push(["#/seat", "navSeat"]);
  if (role === "tester" || STAFF.includes(role)) items.push(["#/labs", "navLabs"]);
  if (role === "tester" || STAFF.includes(role)) items.push(["#/images", "navImages"]);
  items.push(["#/operations", "navOperations"]);
  if (STAFF.includes(role)) items.push(["#/profiles", "navProfiles"]);
  if (STAFF.includes(role)) items.push(["#/catalogue", "navCatalogue"]);
  if (STAFF.includes(role)) items.push(["#/audit", "navAudit"]);
  return items;
}

function home(role) {
  if (role === "trainee") return "#/seat";
  if (role === "trainer") return "#/classes";
  return "#/labs";
}

let leaving = [];
let generation = 0;
const main = document.getElementById("app");

async function render() {
  for (const done of leaving) done();
  leaving = [];
  generation += 1;
  const mine = generation;
  const path = location.hash.replace(/^#/, "") || "/";
  const user = currentUser();
  header(user);
  if (!token() || !user) {
    show(loginView(path === "/login" ? "/" : path));
    return;
  }
  if (path === "/" || path === "/login") {
    location.replace(home(user.role));
    return;
  }
  // A view may still be loading when the next render starts: what it opened (a
  // websocket, a progress stream) is closed when it is no longer the current one.
  const mineLeaving = [];
  leaving = mineLeaving;
  const context = {
    user,
    leave: (done) => (mine === generation ? mineLeaving.push(done) : done()),
    current: () => mine === generation,
  };
  for (const [pattern, view] of ROUTES) {
    const match = path.match(pattern);
    if (!match) continue;
    show(h("p", { class: "muted" }, t("loading")));
    let element;
    try {
      element = await view(context, ...match.slice(1));
    } catch (error) {
      element = h("section", {}, errorBox(error));
    }
    if (mine !== generation) {
      for (const done of mineLeaving) done();
      return;
    }
    show(element);
    return;
  }
  show(h("section", {}, h("p", {}, t("notFound"))));
}

function show(element) {
  main.replaceChildren(element);
}

function header(user) {
  const nav = document.getElementById("nav");
  const path = location.hash || "#/";
  nav.replaceChildren(
    ...(user ? menu(user.role) : []).map(([href, key]) =>
      h("a", { href, "aria-current": path.startsWith(href) ? "page" : null }, t(key)),
    ),
  );
  document.getElementById("who").textContent = user ? `${user.name} (${t(`role_${user.role}`)})` : "";
  document.getElementById("logout").hidden = !user;
  document.getElementById("lang").textContent = t("switchTo");
  document.getElementById("lang").lang = lang() === "uk" ? "en" : "uk";
  document.title = `Hromada Lab — ${t("brand")}`;
  translate(document.querySelector("header"));
}

function loginView(next) {
  const message = h("div", { class: "login-message", "aria-live": "polite" });
  const name = h("input", { id: "login-name", name: "username", autocomplete: "username", required: true, autocapitalize: "none", spellcheck: "false" });
  const password = h("input", { id: "login-password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit", class: "primary" }, t("login"));
  const form = h(
    "form",
    { class: "login card", id: "login-form" },
    h("h1", {}, t("loginTitle")),
    h("p", { class: "muted" }, t("loginIntro")),
    h("label", { for: "login-name" }, t("name")),
    name,
    h("label", { for: "login-password" }, t("password")),
    password,
    submit,
    message,
  );
  if (sessionStorage.getItem("hlab.ended")) {
    sessionStorage.removeItem("hlab.ended");
    message.append(h("p", { class: "warn" }, t("sessionEnded")));
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    submit.textContent = t("loggingIn");
    message.replaceChildren();
    try {
      const session = await api("/api/v1/login", {
        method: "POST",
        body: { name: name.value.trim(), password: password.value },
      });
      remember(session);
      const target = next && next !== "/" ? `#${next}` : home(session.user.role);
      if (location.hash !== target) location.hash = target;
      else render();
    } catch (error) {
      message.append(errorBox(error));
      password.select();
    } finally {
      submit.disabled = false;
      submit.textContent = t("login");
    }
  });
  setTimeout(() => name.focus(), 0);
  return h("section", { class: "narrow" }, form);
}

async function logout() {
  try {
    await api("/api/v1/logout", { method: "POST" });
  } catch {
    // gone already: nothing to end
  }
  forget();
  location.hash = "#/login";
  render();
}

function largeType(on) {
  document.documentElement.classList.toggle("large", on);
  document.getElementById("large").setAttribute("aria-pressed", String(on));
  localStorage.setItem("hlab.large", on ? "1" : "");
}

whenUnauthorized(() => {
  if (!token()) return;
  forget();
  sessionStorage.setItem("hlab.ended", "1");
  render();
});
document.getElementById("lang").addEventListener("click", () => {
  setLang(lang() === "uk" ? "en" : "uk");
  render();
});
document.getElementById("large").addEventListener("click", () =>
  largeType(!document.documentElement.classList.contains("large")),
);
document.getElementById("logout").addEventListener("click", logout);
window.addEventListener("hashchange", render);
document.documentElement.lang = lang();
largeType(localStorage.getItem("hlab.large") === "1");
render();
