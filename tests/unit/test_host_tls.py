"""The host playbook's TLS, without running the playbook: its `openssl` command makes a
certificate `lab serve` accepts, and the unit's command line, rendered from the role's
defaults as Ansible would for each choice (self-signed, provided, none, none behind a
proxy), is one `lab serve` starts with (uvicorn.run recorded, nothing bound)."""

from __future__ import annotations

import re
import shlex
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2
import pytest
import typer
import uvicorn
import yaml
from typer.testing import CliRunner

from lab.cli import serve as serve_cli
from lab.settings import get_settings

ROLE = Path(__file__).parents[2] / "playbooks" / "host" / "lab_host"
FACTS = {
    "ansible_fqdn": "lab1.centre.example",
    "inventory_hostname": "lab1",
    "ansible_default_ipv4": {"address": "192.0.2.10"},
}


def _env() -> jinja2.Environment:
    # Ansible's template module: trim_blocks on; its regex_replace filter is re.sub.
    env = jinja2.Environment(trim_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["regex_replace"] = lambda value, pattern, repl: re.sub(pattern, repl, value)
    env.filters["unique"] = lambda values: list(dict.fromkeys(values))  # a list, as Ansible's
    env.filters["bool"] = lambda value: str(value).lower() in ("true", "yes", "1")
    env.filters["dirname"] = lambda value: str(Path(value).parent)
    return env


def _variables(**overrides: Any) -> dict[str, Any]:
    """The role's defaults with `overrides`, templated as Ansible resolves them."""
    env = _env()
    raw: dict[str, Any] = {**yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())}
    raw.update(overrides)
    known: dict[str, Any] = {**FACTS, "playbook_dir": "/src/playbooks"}
    for _ in range(5):  # defaults refer to other defaults
        for name, value in raw.items():
            if isinstance(value, str) and "{{" in value:
                try:
                    rendered = env.from_string(value).render({**raw, **known})
                except jinja2.TemplateError:  # a later round, or not needed here
                    continue
                known[name] = yaml.safe_load(rendered) if rendered.startswith("[") else rendered
            else:
                known[name] = value
    return known


def _exec_start(variables: dict[str, Any]) -> list[str]:
    unit = _env().from_string((ROLE / "templates" / "hromada-lab.service.j2").read_text())
    line = next(x for x in unit.render(**variables).splitlines() if x.startswith("ExecStart="))
    words = shlex.split(line.removeprefix("ExecStart="))
    assert words[1] == "serve", words
    return words[2:]


def _openssl_argv(variables: dict[str, Any]) -> list[str]:
    tasks = yaml.safe_load((ROLE / "tasks" / "tls.yml").read_text())
    task = next(t for t in tasks if "self-signed" in t["name"])
    env = _env()
    return [
        env.from_string(str(a)).render(**variables) for a in task["ansible.builtin.command"]["argv"]
    ]


@pytest.fixture
def recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append(kwargs))
    monkeypatch.setenv("LAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LAB_LIBVIRT_URI", "test:///default")
    get_settings.cache_clear()
    yield calls
    get_settings.cache_clear()


def _serve(args: list[str]) -> Any:
    app = typer.Typer(pretty_exceptions_enable=False)
    serve_cli.register(app)
    app.command("version")(lambda: None)  # two commands: `serve` stays a subcommand
    return CliRunner().invoke(app, ["serve", *args])


def test_the_self_signed_certificate_serves(tmp_path: Path, recorded: list[dict[str, Any]]) -> None:
    variables = _variables(lab_host_tls_dir=str(tmp_path))
    made = subprocess.run(_openssl_argv(variables), capture_output=True, text=True, check=False)
    assert made.returncode == 0, made.stderr
    cert = ssl._ssl._test_decode_cert(str(tmp_path / "cert.pem"))  # type: ignore[attr-defined]
    assert ("DNS", "lab1.centre.example") in cert["subjectAltName"]
    assert ("IP Address", "192.0.2.10") in cert["subjectAltName"]
    args = _exec_start(variables)
    assert args[:4] == ["--host", "0.0.0.0", "--port", "8080"]
    assert args[4:] == ["--tls-cert", f"{tmp_path}/cert.pem", "--tls-key", f"{tmp_path}/key.pem"]
    result = _serve(args)
    assert result.exit_code == 0, (result.output, result.exception)
    assert recorded[0]["ssl_certfile"] == tmp_path / "cert.pem"


def test_without_tls_the_unit_listens_on_loopback_only(recorded: list[dict[str, Any]]) -> None:
    args = _exec_start(_variables(lab_host_tls="none"))
    assert args == ["--host", "127.0.0.1", "--port", "8080"]
    assert _serve(args).exit_code == 0
    assert recorded[0]["host"] == "127.0.0.1" and recorded[0]["ssl_certfile"] is None


def test_behind_a_named_proxy_plain_http_may_listen_beyond_loopback(
    recorded: list[dict[str, Any]],
) -> None:
    args = _exec_start(_variables(lab_host_tls="none", lab_host_api_proxy="10.20.0.5"))
    assert args == ["--host", "0.0.0.0", "--port", "8080", "--proxy", "10.20.0.5"]
    assert _serve(args).exit_code == 0
    assert recorded[0]["forwarded_allow_ips"] == "10.20.0.5"
