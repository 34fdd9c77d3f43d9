"""Placement and admission arithmetic (lab.placement.place): pure, fabricated hosts."""

from __future__ import annotations

from ipaddress import IPv4Network
from pathlib import Path

import pytest

from lab.driver.specs import CpuMode, VirtType
from lab.host.facts import AccelChoice, qemu_overhead_mib
from lab.labs.plan import plan_lab
from lab.placement.model import Need, Room
from lab.placement.place import (
    GIB,
    MIB,
    OVERLAY_GROWTH,
    CapacityError,
    lab_need,
    place,
)
from lab.profile import load_profile, load_profile_text
from tests.unit.test_appliance_profiles import profile_text

PROFILES = Path(__file__).parents[2] / "profiles"
MGMT = IPv4Network("10.250.3.0/24")


def need(lab: str, gib: float, disk_gib: float = 1.0) -> Need:
    return Need(lab=lab, memory_bytes=int(gib * GIB), disk_bytes=int(disk_gib * GIB))


def room(host: str, gib: float, disk_gib: float = 100.0) -> Room:
    return Room(host=host, memory_free_bytes=int(gib * GIB), disk_free_bytes=int(disk_gib * GIB))


def test_a_lab_needs_its_machines_memory_and_qemus_overhead_per_accelerator(
    tmp_path: Path,
) -> None:
    plan = plan_lab(load_profile(PROFILES / "rural-hromada.yaml"), "r", "hl-", tmp_path, MGMT)
    memory = sum(m.memory_mib for m in plan.machines)
    assert memory == 768 + 512
    kvm = AccelChoice(virt_type=VirtType.KVM, cpu=CpuMode.HOST_PASSTHROUGH, reason="t")
    tcg = AccelChoice(virt_type=VirtType.QEMU, cpu=CpuMode.NEHALEM, reason="t", tb_cache_mib=256)
    qemus = tcg.model_copy(update={"tb_cache_mib": None})  # QEMU's own cache: 1 GiB
    assert [qemu_overhead_mib(a) for a in (kvm, tcg, qemus)] == [128, 128 + 256, 128 + 1024]
    need = lab_need(plan, qemu_overhead_mib(tcg))
    assert need.lab == "r"
    assert need.memory_bytes == (memory + 2 * (128 + 256)) * MIB
    # On disk: a memory state per machine (its baseline) and what each disk grows to.
    assert need.disk_bytes == memory * MIB + 2 * OVERLAY_GROWTH


def test_an_appliances_extra_disks_count_on_disk() -> None:
    hardware = "      firmware: bios\n      extra_disks: [box-disk2]\n      ready: []"
    text = profile_text(hardware=hardware)
    plan = plan_lab(load_profile_text(text, "t.yaml"), "o", "hl-", Path("/labs"), MGMT)
    assert [len(m.layers) for m in plan.machines] == [1, 2]
    memory = (512 + 1024) * MIB
    assert lab_need(plan, 128).disk_bytes == memory + 3 * OVERLAY_GROWTH


def test_a_lab_that_fits_goes_to_the_host_with_most_room() -> None:
    placed = place([need("a", 2)], [room("lab1", 3), room("lab2", 6)], "lab 'a'")
    assert placed.hosts == (("a", "lab2"),)
    assert placed.host_of("a") == "lab2"


def test_a_class_spreads_its_seats_over_the_hosts_counting_each_seat_placed() -> None:
    seats = [need(f"c-{i:02}", 1.3) for i in range(1, 7)]
    placed = place(seats, [room("lab1", 6.2), room("lab2", 4.0)], "class 'c' of 6 seats")
    hosts = [host for _, host in placed.hosts]
    assert [lab for lab, _ in placed.hosts] == [s.lab for s in seats]  # in the given order
    assert hosts.count("lab1") == 4 and hosts.count("lab2") == 2  # 4 × 1.3 <= 6.2


def test_a_class_that_does_not_fit_is_refused_whole_with_the_shortfall_per_host() -> None:
    seats = [need(f"c-{i:02}", 1.3) for i in range(1, 13)]
    with pytest.raises(CapacityError) as refused:
        place(seats, [room("lab1", 6.2), room("lab2", 4.0)], "class 'c' of 12 seats")
    message = refused.value.message
    assert "class 'c' of 12 seats does not fit" in message
    assert "12 × 1.3 GiB of memory (free: lab1 6.2 GiB, lab2 4.0 GiB)" in message
    assert "lab host check" in refused.value.hint


def test_unlike_labs_are_summed_in_the_shortfall() -> None:
    with pytest.raises(CapacityError) as refused:
        place([need("a", 1), need("b", 2.5)], [room("local", 3)], "two labs")
    assert "3.5 GiB of memory (free: local 3.0 GiB)" in refused.value.message


def test_disk_counts_as_much_as_memory() -> None:
    with pytest.raises(CapacityError) as refused:
        place([need("a", 1, disk_gib=8)], [room("local", 16, disk_gib=5)], "lab 'a'")
    assert "8.0 GiB of disk (free: local 5.0 GiB)" in refused.value.message


def test_a_lab_is_never_split_even_when_the_sum_of_hosts_would_hold_it() -> None:
    with pytest.raises(CapacityError):
        place([need("big", 5)], [room("lab1", 3), room("lab2", 3)], "lab 'big'")


def test_no_host_is_a_capacity_error_saying_how_to_add_one() -> None:
    with pytest.raises(CapacityError) as refused:
        place([need("a", 1)], [], "lab 'a'")
    assert "lab host add" in refused.value.hint


def test_a_refusal_is_a_conflict_for_the_api() -> None:
    from lab.errors import ConflictError

    assert issubclass(CapacityError, ConflictError)  # 409: the host's state, not the request
