"""A community's own machine: how long its import takes, and how fast it comes back.

    scripts/labns run .venv/bin/python -m bench.appliance

1. Import of a multi-GiB VMDK (the test suite's vendor appliance, grown with incompressible
   data the way a used server's disk is) against a plain `qemu-img convert` of the same
   file to qcow2, one after the other in this run. Target: within 1.2x.
2. The appliance in a lab beside a managed machine (which runs its HTTP probe): its memory
   reset to verified-ready (fresh overlay, NVRAM, memory state, probe passes) against its
   cold boot to verified-ready (fresh overlay, NVRAM, firmware, kernel, application, probe
   passes). Target: at least 10x faster. The whole lab's memory reset is printed too.
"""

from __future__ import annotations

import os
import shutil
import statistics
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from bench._home import IMAGE_HOME, bench_settings
from lab.baselines import generations, resets
from lab.commands import run
from lab.driver.connection import Driver
from lab.images import ImageStore
from lab.labs import appliances, lifecycle
from lab.labs.plan import MachinePlan
from lab.settings import Settings
from tests.appliances import vendor

ROUNDS = 3
GROWN = 3 * 1024**3  # bytes of incompressible data the grown disk holds beyond the system
LAB = "ba"


def main() -> None:
    appliance = vendor.ensure(IMAGE_HOME / "test-appliances")
    with bench_settings() as settings:
        work = settings.home / "bench-import"
        work.mkdir()
        vmdk = grown_vmdk(appliance.raw, work)
        size = vmdk.stat().st_size
        store = ImageStore(settings)
        plains, imports = [], []
        for turn in range(ROUNDS):  # side by side, in turns: the noise hits both alike
            t0 = time.perf_counter()
            argv = ["qemu-img", "convert", "-q", "-f", "vmdk", "-O", "qcow2"]
            run([*argv, vmdk, work / "plain.qcow2"])
            plains.append(time.perf_counter() - t0)
            (work / "plain.qcow2").unlink()
            name = f"bench-grown-{os.getpid()}-{turn}"
            t0 = time.perf_counter()
            store.import_file(vmdk, name, progress=lambda _: None)
            imports.append(time.perf_counter() - t0)
            store.remove(name, used_by=[])
        plain, imported = statistics.median(plains), statistics.median(imports)
        shutil.rmtree(work)

        image = f"bench-docflow-{os.getpid()}"
        store.import_file(appliance.vmdk, image, progress=lambda _: None)
        try:
            cold, memory, whole = resets_of(settings, image, appliance.ip)
        finally:
            lifecycle.down(settings, LAB)
            store.remove(image, used_by=[])

    print(f"VMDK of {size / 1024**3:.1f} GiB, medians of {ROUNDS} turns each:")
    print(f"  plain qemu-img convert to qcow2:   {plain:6.1f} s")
    print(f"  lab image import (checked, checksummed, stored): {imported:6.1f} s")
    print(f"  ratio import / convert:            {imported / plain:6.2f}x (target <= 1.2x)")
    print(f"appliance cold boot to verified-ready:   {cold:6.1f} s")
    print(f"appliance memory reset to verified-ready: {memory:6.2f} s (median of {ROUNDS})")
    print(f"  ratio cold / memory:               {cold / memory:6.1f}x (target >= 10x)")
    print(f"whole lab (appliance + managed machine) memory reset: {whole:6.2f} s")


def grown_vmdk(raw: Path, work: Path) -> Path:
    """The appliance's disk with GROWN bytes of random data written after its partitions
    (as a used server's disk holds data), as a monolithic sparse VMDK."""
    grown = work / "grown.raw"
    shutil.copyfile(raw, grown)
    with grown.open("r+b") as f:
        f.seek(0, os.SEEK_END)
        chunk = 64 * 1024**2
        for _ in range(GROWN // chunk):
            f.write(os.urandom(chunk))
        f.truncate(f.tell() + 1024**2)  # room for the backup GPT header
    vmdk = work / "grown.vmdk"
    run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "vmdk", grown, vmdk])
    grown.unlink()
    return vmdk


def resets_of(settings: Settings, image: str, address: str) -> tuple[float, float, float]:
    profile = settings.home / "appliance.yaml"
    profile.write_text(
        textwrap.dedent(
            f"""\
            community: {{name: bench, title: "Бенчмарк", oblast: "Сумська", kind: rural}}
            networks: [{{name: office, cidr: 10.77.0.0/24}}]
            machines:
              - {{name: ws, image: debian-12, memory: 512MiB,
                  nics: [{{network: office, address: 10.77.0.10}}]}}
              - name: docflow
                image: {image}
                memory: 512MiB
                disk: 2GiB
                appliance:
                  firmware: uefi
                  machine_type: q35
                  guest_agent: true
                  ready: [{{kind: http, path: /, expect_text: Vendor Docflow}}]
                nics: [{{network: office, address: {address}}}]
            """
        )
    )
    lifecycle.up(settings, profile, LAB)
    resets.baseline(settings, LAB)
    plan = lifecycle.get_lab(settings, LAB).plan
    machine = plan.machine("docflow")
    cold = one_machine(settings, machine, boot_cold=True)
    memory = statistics.median(
        one_machine(settings, machine, boot_cold=False) for _ in range(ROUNDS)
    )
    whole = statistics.median(resets.reset(settings, LAB).seconds for _ in range(ROUNDS))
    return cold, memory, whole


def one_machine(settings: Settings, machine: MachinePlan, *, boot_cold: bool) -> float:
    """The appliance alone back to its baseline, until its probes pass (seconds)."""
    plan = lifecycle.get_lab(settings, LAB).plan
    baseline = generations.current(plan)
    assert baseline is not None
    probes = appliances.ready_probes(plan, machine, after_reset=True)
    with Driver.open(settings.libvirt_uri) as driver:
        start: Callable[[], None]
        if boot_cold:
            start = lambda: driver.start_domain(machine.domain)  # noqa: E731
        else:
            state = baseline.memory_state(plan, machine.name)
            start = lambda: driver.restore_domain(state, machine.domain)  # noqa: E731
        t0 = time.perf_counter()
        driver.destroy_domain(machine.domain)
        generations.new_overlay(baseline.disk(plan, machine.name), machine.overlay)
        generations.restore_nvram(plan, machine, baseline)
        start()
        appliances.wait_ready(driver, plan, machine, probes, 600, lambda _: None)
        return time.perf_counter() - t0


if __name__ == "__main__":
    main()
