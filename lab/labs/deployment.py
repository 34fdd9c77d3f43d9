"""Carrying out a lab plan in libvirt and on disk, and removing it again.

`create` makes exactly what a plan names; `teardown` removes exactly that (plus any
libvirt object tagged with the lab's name), and is idempotent, so it serves `down`,
rollback of a failed `up`, and `reconcile` alike.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from ipaddress import IPv4Interface
from pathlib import Path

from lab.base import Progress
from lab.commands import run
from lab.driver import domain_xml, network_xml
from lab.driver.connection import DomainState, Driver
from lab.driver.specs import VirtType
from lab.errors import ConflictError, InvalidError, LabError
from lab.host.facts import AccelChoice, find_ovmf, server_ovmf
from lab.host.images import server_files
from lab.host.model import POOL
from lab.host.slots import boot_slot
from lab.images import Image, ImageStore
from lab.labs import guest, keys, naming, passwords, seed
from lab.labs.driver_specs import domain_spec, network_spec
from lab.labs.plan import LabPlan, MachinePlan
from lab.profile import AccountKind, Profile
from lab.settings import NicFilter

ADMIN_USER = "labadmin"
_CONSOLE_TAIL_BYTES = 16384


def check_free(driver: Driver, plan: LabPlan) -> None:
    """Refuse to start over leftovers: never adopt (or later delete) what `up` did not make."""
    leftovers = [m.domain for m in plan.machines if driver.domain_exists(m.domain)]
    leftovers += [
        n.libvirt_name for n in plan.all_networks if driver.network_exists(n.libvirt_name)
    ]
    if plan.remote:  # files of an earlier lab of that name in the server's pool
        leftovers += [
            v
            for v in driver.list_volumes(POOL)
            if any(v.startswith(m.domain + ".") for m in plan.machines)
        ]
    if leftovers or plan.directory.exists():
        found = ", ".join(leftovers) or str(plan.directory)
        raise ConflictError(
            f"leftovers of an earlier lab '{plan.lab}' exist: {found}",
            hint="run `lab reconcile` to remove them, or pick another name with --name",
        )


def create(
    driver: Driver,
    plan: LabPlan,
    profile: Profile,
    images: dict[str, Image],
    store: ImageStore,
    accel: AccelChoice,
    nic_filter: NicFilter,
    progress: Progress,
) -> None:
    """Networks, keys, overlays, seeds and domains of the plan; nothing is started. On
    another server the overlays and seeds are volumes of its pool, made through libvirt
    over the images copied there (lab.host.images.ensure_images, first)."""
    if plan.remote:
        plan.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    else:
        for sub in ("disks", "console"):
            (plan.directory / sub).mkdir(parents=True, exist_ok=True)
        plan.directory.chmod(0o755)  # QEMU (libvirt-qemu) must reach disks/ below it
    lab_key = keys.ensure_keypair(plan.keys_dir, comment=f"hromada-lab:{plan.lab}")
    # Console logins (a trainee at the browser console, staff at Samba/IMAP) need
    # passwords: one per account and lab, made here, kept 0600 beside the keys.
    hashes = {
        name: seed.hash_password(password)
        for name, password in passwords.account_passwords(plan.keys_dir, profile).items()
    }
    create_networks(driver, plan, progress)
    ovmf = None
    if any(m.nvram is not None for m in plan.machines):
        if plan.remote:  # libvirt makes each machine's variables there, from the template
            ovmf = server_ovmf(plan.host, driver.firmware_loaders(accel.virt_type))
        else:
            ovmf = find_ovmf()
            (plan.directory / "nvram").mkdir(mode=0o755, exist_ok=True)
    known_hosts: list[str] = []
    for machine in plan.machines:
        image = images[machine.image]
        if plan.remote:
            _create_remote_overlay(driver, machine.overlay, machine.disk_bytes, image)
        else:
            _create_overlay(store.disk_path(image), machine.overlay, machine.disk_bytes, image)
        for disk in machine.extra_disks:
            extra = images[disk.image]
            if plan.remote:
                _create_remote_overlay(driver, disk.overlay, extra.virtual_size, extra)
            else:
                _create_overlay(store.disk_path(extra), disk.overlay, extra.virtual_size, extra)
        if machine.managed:
            assert machine.seed is not None
            host_key = keys.host_keypair(plan.keys_dir, machine.name)
            known_hosts += [
                keys.known_hosts_line(str(machine.management_address), host_key.public_text)
            ]
            spec_of_seed = seed_spec(plan, machine, profile, lab_key, host_key, hashes)
            if plan.remote:
                upload_seed(driver, plan, spec_of_seed, machine.seed)
            else:
                seed.write_seed(spec_of_seed, machine.seed)
        spec = domain_spec(plan, machine, image, store, accel, nic_filter, ovmf)
        driver.define_domain(domain_xml(spec))
        kind = "appliance, " if not machine.managed else ""
        progress(machine.name, f"defined ({kind}{machine.vcpus} vCPU, {machine.memory_mib} MiB)")
    # Pinned host keys for `lab ssh`: the guests' keys are ours, made before they booted.
    plan.known_hosts.write_text("".join(line + "\n" for line in known_hosts))


def create_networks(driver: Driver, plan: LabPlan, progress: Progress) -> None:
    """Define and start every network of the plan."""
    for net in plan.all_networks:
        driver.define_network(network_xml(network_spec(net)))
        driver.start_network(net.libvirt_name)
        progress("lab", f"network {net.name} ({net.cidr}) is up")


def boot_slots(setting: int, virt_type: VirtType, cores: int | None = None) -> int:
    """How many machines boot at once (pure). An emulated (TCG) boot keeps a core busy
    from start to login, so more boots than cores only make each slower (four on two
    cores: ~280 s each, past the boot timeout); under KVM boots barely load the host.
    `setting` 0 means that choice; any other value is taken as it is."""
    if setting > 0:
        return setting
    if virt_type is VirtType.QEMU:
        return max(1, cores if cores is not None else os.cpu_count() or 1)
    return 16


def boot(
    driver: Driver,
    plan: LabPlan,
    slots: int,
    ready: Callable[[MachinePlan], None],
    progress: Progress,
    slot_dir: Path | None = None,
) -> None:
    """Start every inactive network, then the machines, at most `slots` booting at once:
    a machine holds its slot from its start until `ready` returns for it. With
    `slot_dir`, the slots are the host's (lab.host.slots), shared with every lab booting
    meanwhile; without, this lab's own. When not all fit at once, the managed machines
    go first: an appliance is ready only once a managed machine has probed it, so it
    must not hold a slot one of those needs."""
    for net in plan.all_networks:
        if not driver.network_active(net.libvirt_name):
            driver.start_network(net.libvirt_name)
    own = threading.BoundedSemaphore(max(1, slots))
    if slots < len(plan.machines):
        progress("lab", f"booting {len(plan.machines)} machines, {slots} at a time")
    phases = [plan.machines]
    if slots < len(plan.machines) and plan.appliances and plan.managed_machines:
        phases = [plan.managed_machines, plan.appliances]

    def gate(machine: MachinePlan) -> AbstractContextManager[object]:
        return own if slot_dir is None else machine_slot(slot_dir, slots, machine, progress)

    def one(machine: MachinePlan) -> None:
        with gate(machine):
            if driver.domain_state(machine.domain) is not DomainState.RUNNING:
                driver.start_domain(machine.domain)
                progress(machine.name, "started")
            ready(machine)

    for machines in phases:
        parallel(one, machines)


def machine_slot(
    slot_dir: Path, slots: int, machine: MachinePlan, progress: Progress
) -> AbstractContextManager[int]:
    """One of the host's `slots` boot slots (lab.host.slots) for `machine`, saying so when
    it has to wait for one."""

    def waiting() -> None:
        progress(machine.name, f"waiting: the host boots {slots} machines at a time")

    return boot_slot(slot_dir, slots, waiting)


def teardown(
    driver: Driver,
    plan_or_name: LabPlan | str,
    prefix: str,
    labs_dir: Path,
    pool: str | None = None,
) -> list[str]:
    """Remove every domain, network and file of a lab; return what was removed.
    InvalidError, before anything is touched, for a name that is not a lab's: it
    becomes a path under `labs_dir` (an empty name would be `labs_dir` itself).
    `pool`: on another server, the pool whose volumes named after the lab's domains are
    the lab's files there (lab.host.model.POOL)."""
    lab = plan_or_name if isinstance(plan_or_name, str) else plan_or_name.lab
    naming.check_lab_name(lab)
    domains = set(_tagged(driver.list_domains(prefix), prefix, lab))
    networks = set(_tagged(driver.list_networks(prefix), prefix, lab))
    if isinstance(plan_or_name, LabPlan):
        domains |= {m.domain for m in plan_or_name.machines if driver.domain_exists(m.domain)}
        networks |= {
            n.libvirt_name
            for n in plan_or_name.all_networks
            if driver.network_exists(n.libvirt_name)
        }
    removed: list[str] = []
    for domain in sorted(domains):
        if driver.domain_state(domain) in (DomainState.RUNNING, DomainState.PAUSED):
            driver.destroy_domain(domain)
        driver.undefine_domain(domain)
        removed.append(f"domain {domain}")
    for network in sorted(networks):
        if driver.network_active(network):
            driver.destroy_network(network)
        driver.undefine_network(network)
        removed.append(f"network {network}")
    if pool is not None:
        for volume in _tagged(driver.list_volumes(pool), prefix, lab):
            driver.delete_volume(pool, volume)
            removed.append(f"volume {volume}")
    directory = labs_dir / lab
    if directory.exists():
        shutil.rmtree(directory)
        removed.append(f"directory {directory}")
    return removed


def seed_spec(
    plan: LabPlan,
    machine: MachinePlan,
    profile: Profile,
    lab_key: keys.KeyPair,
    host_key: keys.KeyPair,
    password_hashes: dict[str, str] | None = None,
) -> seed.SeedSpec:
    accounts = tuple(
        seed.SeedAccount(
            name=account.name,
            full_name=account.full_name,
            groups=account.groups,
            sudo=account.kind is AccountKind.ADMIN or account.sudo,
            password_hash=(password_hashes or {}).get(account.name),
            ssh_keys=(lab_key.public_text,),
        )
        for account in profile.accounts
    )
    prefixes = {n.name: n.cidr.prefixlen for n in plan.all_networks}
    interfaces = tuple(
        seed.SeedInterface(
            mac=nic.mac, address=IPv4Interface(f"{nic.address}/{prefixes[nic.network]}")
        )
        for nic in machine.all_nics
    )
    return seed.SeedSpec(
        hostname=machine.name,
        interfaces=interfaces,
        instance_id=f"{plan.lab}.{machine.name}",
        admin_user=ADMIN_USER,
        authorized_keys=(lab_key.public_text,),
        host_key=(host_key.private.read_text(), host_key.public_text),
        accounts=accounts,
    )


def console_tail(driver: Driver, plan: LabPlan, machine: MachinePlan, lines: int = 15) -> str:
    """The last lines the machine wrote to its serial console, for error messages."""
    try:
        if plan.remote:
            data = driver.volume_tail(POOL, machine.console_log.name, _CONSOLE_TAIL_BYTES)
            if data is None:
                return "(no console output recorded)"
            text = data.decode(errors="replace")
        else:
            text = machine.console_log.read_text(errors="replace")
    except (OSError, LabError):
        return "(no console output recorded)"
    kept = [line.rstrip() for line in text.splitlines() if line.strip()][-lines:]
    return "\n".join(kept) or "(the console stayed silent)"


def _create_overlay(base: Path, overlay: Path, size: int, image: Image) -> None:
    # A thin qcow2 layer over the read-only base: the lab writes here, never to the image.
    size = max(size, image.virtual_size)
    run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base, overlay, str(size)],
        hint="is the image store intact? `lab image list`",
    )


def _create_remote_overlay(driver: Driver, overlay: Path, size: int, image: Image) -> None:
    # The server's copy of the image is in the same pool (lab.host.images).
    backing = overlay.parent / server_files(image)[0]
    driver.create_overlay(POOL, overlay.name, max(size, image.virtual_size), str(backing))


def upload_seed(driver: Driver, plan: LabPlan, spec: seed.SeedSpec, path: Path) -> None:
    """The seed of `spec` as volume `path` of the lab's server: made here (the seed's
    tools are on this machine), then sent to the server's pool; it holds the guest's SSH
    host key, so it is the lab's own (0600) there."""
    local = plan.directory / path.name
    try:
        seed.write_seed(spec, local)
        with local.open("rb") as f:
            driver.upload_volume(POOL, path.name, f, local.stat().st_size, mode="0600")
    finally:
        local.unlink(missing_ok=True)


def _tagged(names: list[str], prefix: str, lab: str) -> list[str]:
    return [n for n in names if (parts := naming.split_name(prefix, n)) and parts[0] == lab]


def parallel(work: Callable[[MachinePlan], None], machines: tuple[MachinePlan, ...]) -> None:
    """Run `work` for every machine at once; raise the first failure after all finished."""
    with ThreadPoolExecutor(max_workers=max(1, len(machines))) as pool:
        futures = [pool.submit(work, m) for m in machines]
    errors = [f.exception() for f in futures if f.exception() is not None]
    for error in errors:
        if isinstance(error, LabError):
            raise error
    if errors:
        raise errors[0]  # type: ignore[misc]


def admin_address(plan: LabPlan, machine: MachinePlan) -> guest.GuestAddress:
    """The machine's admin SSH path (the lab's management user and key), its host key
    pinned: the orchestrator made that key and put it in the seed. An appliance has none."""
    if not machine.managed:
        raise InvalidError(
            f"machine '{machine.name}' of lab '{plan.lab}' is an appliance: the lab does not"
            " log into it",
            hint="open its console on the lab's web page instead",
        )
    return guest.GuestAddress(
        host=str(machine.management_address),
        user=ADMIN_USER,
        key=plan.keys_dir / "id_ed25519",
        host_key=keys.host_keypair(plan.keys_dir, machine.name).public_text,
        jump=plan.jump,
    )
