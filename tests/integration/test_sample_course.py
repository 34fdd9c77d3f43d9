"""A sample course, whole, on its real profile: a class of one seat of
profiles/rural-hromada.yaml runs courses/cnap-shared-documents.yaml, and a trainee does
every task over SSH as its instructions say (as `trainee`, with sudo). Each task's check
fails before the work, with what it found, and passes after it; the seat moves on task by
task, saving each task's start, to the end of the course.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.baselines import resets
from lab.classes import classes
from lab.courses import runs
from lab.labs import guest, lifecycle
from lab.labs.passwords import known_passwords
from lab.settings import Settings

pytestmark = pytest.mark.integration

PROFILE = Path(__file__).parents[2] / "profiles" / "rural-hromada.yaml"
CLASS = "sc"

SMB_SHARE = """
[spilni]
   path = /srv/shares/spilni
   valid users = @staff
   force group = staff
   read only = no
"""

# What a trainee types for each task (the instructions' own commands), and a word the
# failing check must say before it.
WORK = {
    "dovidky-folder": (
        "/srv/shares/cnap/dovidky",
        ["sudo install -d -g smb-cnap -m 2770 /srv/shares/cnap/dovidky"],
    ),
    "sample-document": (
        "zrazok-dovidky.txt",
        [
            'echo "Довідка про склад сім\'ї"'
            " | sudo tee /srv/shares/cnap/dovidky/zrazok-dovidky.txt >/dev/null"
        ],
    ),
    "common-share": (
        "/srv/shares/spilni",
        [
            "sudo install -d -g staff -m 2770 /srv/shares/spilni",
            f"printf '%s' '{SMB_SHARE}' | sudo tee -a /etc/samba/smb.conf >/dev/null",
            "sudo testparm -s >/dev/null 2>&1 && sudo systemctl reload smbd",
            "echo 'Пн-Пт 9:00-16:00' | sudo tee /srv/shares/spilni/hrafik-pryiomu.txt >/dev/null",
        ],
    ),
    "archive": (
        "/srv/shares/cnap/arkhiv",
        ["sudo install -d -o root -g smb-cnap -m 2750 /srv/shares/cnap/arkhiv"],
    ),
}


@pytest.fixture(scope="module")
def seat(settings: Settings) -> Iterator[str]:
    record, outcomes = classes.create(settings, PROFILE, CLASS, 1, course="cnap-shared-documents")
    assert all(o.ok for o in outcomes), outcomes
    yield record.seats[0]
    classes.delete(settings, CLASS)


def as_trainee(settings: Settings, seat: str, machine: str, command: str) -> None:
    """`command` on `machine`, typed by the trainee logged in over SSH; its `sudo`s ask for
    the trainee's own password (the one on the access sheet), given by an askpass helper."""
    lab = lifecycle.get_lab(settings, seat)
    password = known_passwords(lab.plan.keys_dir)["trainee"]
    addr = lifecycle.guest_address(settings, seat, machine).model_copy(update={"user": "trainee"})
    askpass = f"printf '#!/bin/sh\\necho %s\\n' '{password}' > ~/.askpass && chmod 700 ~/.askpass"
    line = f"{askpass} && export SUDO_ASKPASS=~/.askpass && " + command.replace("sudo ", "sudo -A ")
    client = guest.connect(addr)
    try:
        result = guest.run_on(client, addr, line, 120)
    finally:
        client.close()
    assert result.exit_code == 0, (command, result.stdout, result.stderr)


def test_a_trainee_works_through_the_sample_course(settings: Settings, seat: str) -> None:
    course = runs.seat_course(settings, seat).course
    assert [t.id for t in course.tasks] == list(WORK)
    for number, task in enumerate(course.tasks, 1):
        found, commands = WORK[task.id]
        before = runs.check(settings, seat)
        assert before.task == task.id and not before.ok, before
        failing = [c for c in before.checks if not c.ok]
        assert any(found in c.message.uk for c in failing), failing
        assert not any("зв'язатися" in c.message.uk for c in failing), failing  # all ran
        for command in commands:
            as_trainee(settings, seat, task.machine, command)
        after = runs.check(settings, seat)
        assert after.ok, [c.message.uk for c in after.checks if not c.ok]
        if number < len(course.tasks):
            assert after.advanced_to == course.tasks[number].id and after.note == "", after
    view = runs.seat_course(settings, seat)
    assert view.current is None and view.earned == course.points
    assert [c.state for c in view.cells] == ["done"] * len(course.tasks)
    saved = {c.name for c in resets.checkpoints(settings, seat)}
    assert {"task-02", "task-03", "task-04"} <= saved, saved
