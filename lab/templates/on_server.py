"""A template on a lab server: its files copied there once per host, and each clone's own
generation made over them there.

A lab server (lab.host) has no template store. The first lab cloned from a template on
a server copies the template's files into the server's pool through libvirt's storage
streams, each checked like an image (lab.host.images), under the host's copy lock:

    DIGEST.layer.qcow2   a frozen disk layer (DIGEST: its digest in the template store),
                         its backing file named anew: the server's copy of the image it
                         was made on (DIGEST.disk.qcow2 beside it)
    DIGEST.state.sav     a memory state, its header given STATE_ROOM bytes more, so a
                         clone's domain can be written over it in place
    DIGEST.nvram.fd      a UEFI machine's variables

A clone's machine there then gets the generation `template-NAME` of its own, named like
any generation on a server (lab.baselines.on_server): `DOMAIN.template-NAME.qcow2` (and
`.diskN.qcow2`), an empty layer over the template's, `DOMAIN.template-NAME.sav`, a copy
the server makes of the memory state with the clone's domain written over its head, and
`DOMAIN.template-NAME.nvram.fd`, a copy of the variables. A reset of the clone
goes back to them until the clone takes a baseline of its own; the next prune removes
them then. Nothing of a template is copied to a server twice, and the server's copies
are never written: clones only read them.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lab.base import Progress, quiet
from lab.baselines import on_server
from lab.baselines.generations import Baseline
from lab.commands import run
from lab.driver import saved_state
from lab.driver.connection import Driver
from lab.host import targets
from lab.host.hosts import PROBE_SECONDS, ask_each
from lab.host.images import MARK, CopiedFile, copy_lock, disk_volume, ensure_file, ensure_stored
from lab.host.images import server_files as image_volumes
from lab.host.model import LOCAL, POOL, HostRecord
from lab.host.records import HostStore
from lab.images import ImageStore
from lab.labs.plan import LabPlan, MachinePlan
from lab.labs.records import LabRecord
from lab.settings import Settings
from lab.templates.model import Template, TemplateLayer, TemplateMachine
from lab.templates.store import TemplateStore

# Bytes a memory state's header keeps on a server beyond the template machine's own
# domain: a clone's names and paths differ in length (a domain is 3-4 KiB in all).
STATE_ROOM = 64 * 1024


def layer_volume(digest: str) -> str:
    """The volume of a template's frozen layer `digest` on a server (pure)."""
    return f"{digest}.layer.qcow2"


def nvram_volume(digest: str) -> str:
    """The volume of a template's UEFI variables `digest` on a server (pure)."""
    return f"{digest}.nvram.fd"


def state_volume(digest: str) -> str:
    """The volume of a template's memory state `digest` on a server (pure)."""
    return f"{digest}.state.sav"


def ensure_template(
    settings: Settings, host: str, template: Template, progress: Progress = quiet
) -> list[CopiedFile]:
    """Copy template `template`, and the images its layers sit on, to host `host` where
    it does not have them yet; what was copied and what was there already."""
    images = ImageStore(settings)
    bases = {d: images.by_digest(d) for d in sorted(set(template.image_digests.values()))}
    done = ensure_stored(settings, host, list(bases.values()), progress)
    store = TemplateStore(settings)
    record = HostStore.open(settings).get(host)
    what = f"template {template.name}"
    with copy_lock(settings, host), targets.connect(settings, record.name) as driver:
        pool = targets.target(driver, record).pool_path
        assert pool is not None  # a server's target is its pool
        for machine in template.machines:
            for layer in machine.layers:
                backing = pool / disk_volume(template.image_digests[layer.layer])
                volume = layer_volume(layer.digest)
                if not _there(driver, volume):
                    with _staged(store, volume) as staged:
                        _rebased(store.blob(layer.digest), backing, staged)
                        done.append(ensure_file(driver, what, volume, staged, host, progress))
            if machine.memory is not None and not _there(driver, state_volume(machine.memory)):
                volume = state_volume(machine.memory)
                with _staged(store, volume) as staged:
                    _roomy(store.blob(machine.memory), staged)
                    done.append(ensure_file(driver, what, volume, staged, host, progress))
            if machine.nvram is not None and not _there(driver, nvram_volume(machine.nvram)):
                volume, blob = nvram_volume(machine.nvram), store.blob(machine.nvram)
                done.append(ensure_file(driver, what, volume, blob, host, progress))
    return done


def take_generation(
    settings: Settings,
    driver: Driver,
    store: TemplateStore,
    record: LabRecord,
    baseline: Baseline,
    progress: Progress = quiet,
) -> list[TemplateMachine]:
    """The files of `baseline` (a generation of lab `record` on its server, `driver`
    connected there) brought into the template store: each frozen disk made thin again
    over this machine's copy of its image (only the clusters that differ are kept),
    each memory state as it is. What the template's manifest names of each machine."""
    images = ImageStore(settings)
    machines = []
    gen = baseline.generation
    for machine in record.plan.machines:
        layers = []
        for layer, own in machine.layers:
            frozen = on_server.frozen(machine, own, gen)
            image = images.disk_of(record.image_digests[layer])
            with (
                _staged(store, frozen.name) as whole,
                _staged(store, f"{frozen.name}.thin") as thin,
            ):
                with whole.open("wb") as f:
                    driver.download_volume(POOL, frozen.name, f)
                # A layer over the whole disk, moved onto the image in qemu-img's safe
                # mode: it compares the two and keeps only the clusters that differ.
                create: list[str | Path] = ["qemu-img", "create", "-q", "-f", "qcow2"]
                run([*create, "-F", "qcow2", "-b", whole, thin])
                rebase: list[str | Path] = ["qemu-img", "rebase", "-q", "-f", "qcow2"]
                run([*rebase, "-F", "qcow2", "-b", image, thin], hint="is the image store intact?")
                layers.append(TemplateLayer(layer=layer, digest=store.put_file(thin)))
        memory = None
        if machine.name in baseline.memory:
            memory = _take(driver, store, on_server.memory_state(machine, gen))
        nvram = None
        if machine.nvram is not None:
            variables = on_server.frozen(machine, machine.nvram, gen)
            if driver.volume_path(POOL, variables.name) is not None:
                nvram = _take(driver, store, variables)
        machines.append(
            TemplateMachine(name=machine.name, layers=tuple(layers), memory=memory, nvram=nvram)
        )
        progress(machine.name, f"disks and memory brought from host {record.host}")
    return machines


def _take(driver: Driver, store: TemplateStore, volume: Path) -> str:
    """Volume `volume` of the server's pool brought into the template store: its digest."""
    with _staged(store, volume.name) as staged:
        with staged.open("wb") as f:
            driver.download_volume(POOL, volume.name, f)
        return store.put_file(staged)


def forget(settings: Settings, digests: set[str]) -> dict[str, list[str]]:
    """Delete the copies of the template files `digests` (none of them held by a template
    any more) from every lab server that answers; the volumes removed, by host. A server
    that does not answer keeps its copies (they are only read, and take only disk)."""
    servers = [h for h in HostStore.open(settings).list() if h.name != LOCAL]

    def remove(host: HostRecord) -> list[str]:
        removed = []
        with copy_lock(settings, host.name), targets.connect(settings, host.name) as driver:
            present = set(driver.list_volumes(POOL))
            for digest in sorted(digests):
                for volume in (layer_volume(digest), state_volume(digest), nvram_volume(digest)):
                    for name in (volume + MARK, volume):  # unmarked first: never half-kept
                        if name in present:
                            driver.delete_volume(POOL, name)
                            removed.append(name)
        return removed

    return ask_each(servers, remove, 2 * PROBE_SECONDS)


def kernel_paths(
    settings: Settings, template: Template, plan: LabPlan, machine: MachinePlan
) -> dict[str, str]:
    """The kernel and initrd a template machine's domain names (in this machine's image
    store, or in the pool of the server its lab ran on) -> the ones of machine `machine`
    of the clone `plan` (here, or the copies on the clone's server); none when its image
    boots from its own disk."""
    images = ImageStore(settings)
    image = images.by_digest(template.image_digests[machine.name])
    _, kernel, initrd = image_volumes(image)
    if kernel is None or initrd is None:
        return {}
    here = {kernel: images.kernel_path(image), initrd: images.initrd_path(image)}
    source = next(m for m in template.plan.machines if m.name == machine.name)
    paths: dict[str, str] = {}
    for volume, local in here.items():
        mine = machine.overlay.parent / volume if plan.remote else local
        paths[str(local)] = str(mine)
        if template.plan.remote:
            paths[str(source.overlay.parent / volume)] = str(mine)
    return paths


def make_generation(
    driver: Driver, machine: MachinePlan, generation: str, theirs: TemplateMachine
) -> None:
    """The clone machine's generation over the template's files on its server (an empty
    layer over each of the template's, a copy of its UEFI variables and of its memory
    state), and the machine's own disks and variables made afresh from it; the memory
    state still holds the template machine's domain until `head_state`."""
    pool = machine.overlay.parent
    template_layers = {layer.layer: pool / layer_volume(layer.digest) for layer in theirs.layers}
    for layer, own in machine.layers:
        copy = on_server.frozen(machine, own, generation)
        size = driver.volume_capacity(POOL, template_layers[layer].name)
        driver.create_overlay(POOL, copy.name, size, str(template_layers[layer]))
    if machine.nvram is not None and theirs.nvram is not None:
        copy = on_server.frozen(machine, machine.nvram, generation)
        driver.copy_volume(POOL, copy.name, nvram_volume(theirs.nvram), raw=True)
    on_server.fresh_disks(driver, machine, generation)
    if theirs.memory is not None:
        saved = on_server.memory_state(machine, generation)
        driver.copy_volume(POOL, saved.name, state_volume(theirs.memory), raw=True)


def head_state(
    driver: Driver,
    store: TemplateStore,
    machine: MachinePlan,
    generation: str,
    theirs: TemplateMachine,
    xml: str,
) -> None:
    """Write the clone's domain `xml` over the head of its copy of the memory state."""
    assert theirs.memory is not None
    with store.blob(theirs.memory).open("rb") as f:
        head = _roomy_header(saved_state.read(f), xml)
    driver.write_volume_head(POOL, on_server.memory_state(machine, generation).name, head)


def _there(driver: Driver, volume: str) -> bool:
    return driver.volume_path(POOL, volume + MARK) is not None


@contextmanager
def _staged(store: TemplateStore, volume: str) -> Iterator[Path]:
    """A scratch file in the template store for what is sent to a server, removed after;
    its own (the seats of a class copy the same template to several servers at once)."""
    path = store.root / "tmp" / f"{volume}.{uuid.uuid4().hex}"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def _rebased(layer: Path, backing: Path, staged: Path) -> None:
    # Only the header's name of the backing file changes (an "unsafe" rebase): the
    # server's copy of the image is the very image, checked by its digest.
    shutil.copyfile(layer, staged)
    run(
        ["qemu-img", "rebase", "-u", "-q", "-f", "qcow2", "-F", "qcow2", "-b", backing, staged],
        hint="is the template store intact? lab template list",
    )


def _roomy(state: Path, staged: Path) -> None:
    with state.open("rb") as source, staged.open("wb") as target:
        saved = saved_state.read(source)
        target.write(_roomy_header(saved, saved.xml))
        source.seek(saved.stream_offset)
        shutil.copyfileobj(source, target, 1 << 20)


def _roomy_header(saved: saved_state.SavedState, xml: str) -> bytes:
    """The header of `saved`'s stream for domain `xml`, as long as a server's copy has it
    (STATE_ROOM bytes more than the template's own)."""
    return saved_state.restore_header(saved, xml, size=saved.stream_offset + STATE_ROOM)
