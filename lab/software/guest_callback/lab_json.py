"""Ansible stdout callback `lab_json`: one JSON line per event, one JSON document at the end.

Runs inside a lab's machine under the guest's ansible-core (2.14 on Debian 12, also 2.19),
so it uses only what both offer. The orchestrator reads the event lines as progress and
the document (written to $LAB_RESULT) as the run's result: structured data, never
Ansible's human output. Results arrive already censored for `no_log` tasks; messages are
cut to a few lines, since everything here is shown to people.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

from ansible import __version__ as ansible_version
from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
    name: lab_json
    type: stdout
    short_description: JSON events and a JSON result document for Hromada Lab
    description:
      - One JSON object per line on stdout for each task result; the whole run as one JSON
        document in the file named by the LAB_RESULT environment variable.
"""

FORMAT = 1
_TEXT_LIMIT = 4000
_TAIL_LINES = 20


def _get(result: Any, name: str) -> Any:
    # ansible-core 2.19 offers .host/.task/.result; 2.14 only the underscored names.
    value = getattr(result, name, None)
    return value if value is not None else getattr(result, "_" + name)


def _text(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    lines = text.strip().splitlines()[-_TAIL_LINES:]
    return "\n".join(lines)[-_TEXT_LIMIT:]


def _details(res: dict[str, Any]) -> dict[str, str]:
    """What a person needs to see of one result: its message and output tails."""
    if res.get("_ansible_no_log"):
        return {"msg": "(hidden: the task is no_log)", "stdout": "", "stderr": ""}
    failed_items = [
        r for r in res.get("results", []) or [] if isinstance(r, dict) and r.get("failed")
    ]
    source = failed_items[0] if failed_items and not res.get("stderr") else res
    return {
        "msg": _text(source.get("msg") or res.get("msg")),
        "stdout": _text(source.get("stdout")),
        "stderr": _text(source.get("stderr")),
    }


class CallbackModule(CallbackBase):  # type: ignore[misc]
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "lab_json"

    def __init__(self) -> None:
        super().__init__()
        self.play = ""
        self.tasks: list[dict[str, Any]] = []
        self.results: list[dict[str, Any]] = []

    # -- what started ------------------------------------------------------------------
    def v2_playbook_on_play_start(self, play: Any) -> None:
        self.play = str(play.get_name())

    def v2_playbook_on_task_start(self, task: Any, is_conditional: Any) -> None:
        role = getattr(task, "_role", None)
        self.tasks.append(
            {
                "play": self.play,
                "task": str(task.get_name()),
                "role": str(role.get_name()) if role is not None else "",
                "started": time.time(),
                "ended": time.time(),
            }
        )

    def v2_playbook_on_handler_task_start(self, task: Any) -> None:
        self.v2_playbook_on_task_start(task, False)

    # -- what happened -----------------------------------------------------------------
    def v2_runner_on_ok(self, result: Any) -> None:
        changed = bool(_get(result, "result").get("changed"))
        self._record(result, "changed" if changed else "ok")

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        self._record(result, "failed", ignored=bool(ignore_errors))

    def v2_runner_on_unreachable(self, result: Any) -> None:
        self._record(result, "unreachable")

    def v2_runner_on_skipped(self, result: Any) -> None:
        self._record(result, "skipped")

    def _record(self, result: Any, status: str, ignored: bool = False) -> None:
        task = _get(result, "task")
        role = getattr(task, "_role", None)
        entry = {
            "event": "result",
            "play": self.play,
            "task": str(task.get_name()),
            "role": str(role.get_name()) if role is not None else "",
            "host": str(_get(result, "host").get_name()),
            "status": status,
            "ignored": ignored,
            **(
                _details(dict(_get(result, "result")))
                if status in ("failed", "unreachable")
                else {"msg": "", "stdout": "", "stderr": ""}
            ),
        }
        self.results.append(entry)
        if self.tasks:
            self.tasks[-1]["ended"] = time.time()
        sys.stdout.write(json.dumps(entry) + "\n")
        sys.stdout.flush()

    # -- the end -----------------------------------------------------------------------
    def v2_playbook_on_stats(self, stats: Any) -> None:
        document = {
            "format": FORMAT,
            "ansible_version": ansible_version,
            "tasks": self.tasks,
            "results": self.results,
            "stats": {host: stats.summarize(host) for host in sorted(stats.processed)},
        }
        path = os.environ.get("LAB_RESULT", "")
        if path:
            with open(path, "w", encoding="utf-8") as out:
                json.dump(document, out)
        sys.stdout.write(json.dumps({"event": "stats", "stats": document["stats"]}) + "\n")
        sys.stdout.flush()
