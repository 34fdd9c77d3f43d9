"""How long a round of course checks takes: one seat vs four at once, cold vs warm.

    scripts/labns run .venv/bin/python -m bench.checks

A class of four seats of profiles/tiny.yaml runs the course bench/checks_course.yaml (four
tasks of file, service, user, command and port checks). One round checks every task of a
seat. Cold: the kept sessions are closed first, so the round opens its connections (SSH
handshakes); warm: the next round reuses them. Four seats: four rounds at once (threads),
as the trainer's board asks. Target: four seats in at most 2x the time of one.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench._home import bench_settings
from lab.classes import classes
from lab.courses import checking
from lab.courses.loader import load_course as load_course_file
from lab.courses.model import Course
from lab.courses.outcomes import TaskOutcome
from lab.courses.sessions import POOL
from lab.labs import lifecycle
from lab.labs.records import LabRecord
from lab.settings import Settings

PROFILES = Path(__file__).parents[1] / "profiles"
COURSE = Path(__file__).with_name("checks_course.yaml")
SEATS = 4
ROUNDS = 5


def load_course() -> Course:
    return load_course_file(COURSE, PROFILES)  # located problems, checked against tiny.yaml


def one_round(settings: Settings, record: LabRecord, course: Course) -> tuple[TaskOutcome, ...]:
    return checking.check_tasks(settings, record, course, course.tasks)


def timed(action: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    action()
    return time.perf_counter() - t0


def main() -> None:
    course = load_course()
    with bench_settings(parallel=SEATS) as settings:
        _, outcomes = classes.create(settings, PROFILES / "tiny.yaml", "ckc", SEATS)
        assert all(o.ok for o in outcomes), outcomes
        records = [lifecycle.get_lab(settings, seat) for seat in classes.seat_names("ckc", SEATS)]

        # Every check passes on a fresh seat; what does not is printed, in the trainee's words.
        for task in one_round(settings, records[0], course):
            for check in task.checks:
                if not check.ok:
                    print(f"not ok: {task.task} {check.kind}: {check.message.get('en')}")

        def all_seats() -> None:
            with ThreadPoolExecutor(max_workers=SEATS) as pool:
                list(pool.map(lambda r: one_round(settings, r, course), records))

        one_cold, one_warm, four_cold, four_warm = [], [], [], []
        for _ in range(ROUNDS):
            POOL.close_all()
            one_cold.append(timed(lambda: one_round(settings, records[0], course)))
            one_warm.append(timed(lambda: one_round(settings, records[0], course)))
            POOL.close_all()
            four_cold.append(timed(all_seats))
            four_warm.append(timed(all_seats))
        made, reused = POOL.made, POOL.reused
        POOL.close_all()
        classes.delete(settings, "ckc")

    checks = sum(len(t.checks) for t in course.tasks)
    rows = {
        "1 seat, cold": statistics.median(one_cold),
        "1 seat, warm": statistics.median(one_warm),
        f"{SEATS} seats, cold": statistics.median(four_cold),
        f"{SEATS} seats, warm": statistics.median(four_warm),
    }
    print(f"one round: {len(course.tasks)} tasks, {checks} checks per seat (median of {ROUNDS})")
    for name, seconds in rows.items():
        print(f"{name + ':':24} {seconds:6.2f} s")
    cold = rows[f"{SEATS} seats, cold"] / rows["1 seat, cold"]
    warm = rows[f"{SEATS} seats, warm"] / rows["1 seat, warm"]
    print(f"ratio {SEATS} seats / 1, cold: {cold:6.2f}x (target <= 2x)")
    print(f"ratio {SEATS} seats / 1, warm: {warm:6.2f}x (target <= 2x)")
    print(f"ratio cold / warm, 1 seat:  {rows['1 seat, cold'] / rows['1 seat, warm']:6.2f}x")
    print(f"connections made {made}, reused {reused}")


if __name__ == "__main__":
    main()
