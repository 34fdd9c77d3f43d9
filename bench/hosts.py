"""A class on one host against the same class over two; a seat's memory reset on a lab
server against one on this machine; a seat cloned from a template there against here.

    LABNS_SERVERS=1 scripts/labns run .venv/bin/python -m bench.hosts

The server (s1) is a libvirtd in a namespace of this same machine, reached only as a
remote host is (libvirt over TLS, guests through its sshd), so both hosts share this
machine's cores: each boots one machine at a time (LAB_BOOT_PARALLEL=1), which makes the
class over two hosts boot two at a time, as two real servers of one core each would.
Every reset is verified (SSH and the profile's quick checks) before its time is taken.
Target: a memory reset of a seat on the server at most 1.3x one on this machine.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

from bench._home import bench_settings
from lab.baselines import resets
from lab.classes import classes
from lab.host import hosts
from lab.labs import lifecycle
from lab.settings import Accel, Settings
from lab.templates import clones, templates

PROFILES = Path(__file__).parents[1] / "profiles"
ROUNDS = 5


def main() -> None:
    servers = dict(s.split("=", 1) for s in os.environ.get("LAB_TEST_SERVERS", "").split())
    logins = dict(s.split("=", 1) for s in os.environ.get("LAB_TEST_SERVER_SSH", "").split())
    if "s1" not in servers:
        raise SystemExit("run with a lab server beside it: LABNS_SERVERS=1 scripts/labns run ...")
    who, key, known_hosts = logins["s1"].split(",")
    with bench_settings(boot_parallel=1) as settings:
        # This machine's KVM is in PVM mode, which the server offers as KVM all the same.
        hosts.add_host(settings, "s1", servers["s1"], who, Path(key), Path(known_hosts), Accel.TCG)
        try:
            hosts.drain(settings, "s1")  # the class on this machine's host only
            one = _class(settings, "one")
            hosts.drain(settings, "s1", draining=False)
            two = _class(settings, "two", per_seat=True)
        finally:
            hosts.remove(settings, "s1")

    print(f"class of 4 seats up, one host:         {one['up']:7.1f} s")
    print(f"class of 4 seats up, two hosts:        {two['up']:7.1f} s")
    print(f"ratio one host / two hosts:            {one['up'] / two['up']:7.2f}x")
    print(f"class reset, one host:                 {one['reset']:7.2f} s (median of {ROUNDS})")
    print(f"class reset, two hosts:                {two['reset']:7.2f} s (median of {ROUNDS})")
    print(f"seat memory reset, this machine:       {two['local']:7.2f} s (median of {ROUNDS})")
    print(f"seat memory reset, the server:         {two['remote']:7.2f} s (median of {ROUNDS})")
    ratio = two["remote"] / two["local"]
    print(f"ratio server / this machine:           {ratio:7.2f}x (target <= 1.3x)")
    print(f"a seat cloned from a template, here:   {two['clone here']:7.1f} s (verified)")
    print(f"the same on the server, first time:    {two['clone first']:7.1f} s (files copied)")
    print(f"the same on the server, again:         {two['clone again']:7.1f} s")
    ratio = two["clone again"] / two["clone here"]
    print(f"ratio server / this machine:           {ratio:7.2f}x")


def _class(settings: Settings, name: str, per_seat: bool = False) -> dict[str, float]:
    started = time.perf_counter()
    record, outcomes = classes.create(settings, PROFILES / "tiny.yaml", name, 4)
    took = {"up": time.perf_counter() - started}
    assert all(o.ok for o in outcomes), outcomes
    where = {seat: lifecycle.get_lab(settings, seat).host for seat in record.seats}
    print(f"class {name}: seats on {sorted(where.values())} up in {took['up']:.1f} s")
    assert all(o.ok for o in classes.baseline(settings, name))
    whole = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        seats = classes.reset(settings, name)
        whole.append(time.perf_counter() - t0)
        assert all(o.ok for o in seats), seats
    took["reset"] = statistics.median(whole)
    if per_seat:
        local = next(s for s, h in where.items() if h == "local")
        remote = next(s for s, h in where.items() if h == "s1")
        near, far = [], []
        for _ in range(ROUNDS):  # side by side, one after the other, so both see the same load
            near.append(resets.reset(settings, local).seconds)
            far.append(resets.reset(settings, remote).seconds)
        took["local"], took["remote"] = statistics.median(near), statistics.median(far)
        took |= _clones(settings, local)
    classes.delete(settings, name)
    return took


def _clones(settings: Settings, seat: str) -> dict[str, float]:
    """A template of `seat`, cloned to verified-ready here, then twice on the server: the
    first clone there copies the template's files, the second finds them."""
    templates.create(settings, seat, "bench-hosts")
    took = {}
    try:
        for key, host in (("here", "local"), ("first", "s1"), ("again", "s1")):
            started = time.perf_counter()
            clones.clone(settings, "bench-hosts", f"clone-{key}", host=host)
            took[f"clone {key}"] = time.perf_counter() - started
            lifecycle.down(settings, f"clone-{key}")
    finally:
        templates.delete(settings, "bench-hosts")
    return took


if __name__ == "__main__":
    main()
