"""web_portal: the community's portal answers on port 80 with the community's name."""

import html

import pytest


@pytest.mark.parametrize("service", ["nginx", "php8.2-fpm", "mariadb"])
def test_service_running(host, service):
    assert host.service(service).is_running, f"{service} is not running on the portal"
    assert host.service(service).is_enabled, f"{service} will not start at boot"


def test_front_page_shows_community_title(host, lab):
    title = lab["lab_community"]["title"]
    result = host.run("curl -sS -L --max-time 120 -o - -w '\\n%{http_code}' http://127.0.0.1/")
    assert result.rc == 0, f"the portal does not answer on http://127.0.0.1/: {result.stderr}"
    body, _, status = result.stdout.rpartition("\n")
    assert status == "200", f"the portal's front page answers HTTP {status}, not 200"
    # the page text comes from MariaDB: a stopped database gives an error page instead
    assert title in html.unescape(body), f"the portal's front page does not show {title!r}"


def test_listens_on_port_80(host):
    assert host.socket("tcp://0.0.0.0:80").is_listening, "nginx does not listen on port 80"
