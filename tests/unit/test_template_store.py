"""The template store (blobs linked in, shared, collected) and the template use cases'
rules: only a verified lab's own baseline, with every machine's memory, becomes a
template; a template in use is not deleted; a class comes from a profile or a template."""

from __future__ import annotations

import hashlib
import os
import threading
from datetime import UTC, datetime
from ipaddress import IPv4Network
from pathlib import Path

import pytest

from lab.baselines import generations
from lab.baselines.generations import Baseline
from lab.classes import classes
from lab.errors import ConflictError, InvalidError, NotFoundError
from lab.host import hosts
from lab.host.model import HostRecord
from lab.host.records import HostStore
from lab.labs.plan import LabPlan, plan_lab
from lab.labs.records import LabRecord, LabStatus, VerificationSummary
from lab.profile import load_profile
from lab.settings import Settings
from lab.store.state import StateStore, now
from lab.templates import clones, templates
from lab.templates.model import TEMPLATE_RULE, Template, TemplateLayer, TemplateMachine
from lab.templates.store import TemplateStore, check_template_name, digests_of

PROFILE = Path(__file__).parents[2] / "profiles" / "pair.yaml"
STAMP = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", libvirt_uri="test:///default", prefix="hl-tt-")


@pytest.fixture
def store(settings: Settings) -> TemplateStore:
    return TemplateStore(settings)


def _file(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def _plan(settings: Settings, lab: str = "src") -> LabPlan:
    return plan_lab(
        load_profile(PROFILE),
        lab,
        settings.prefix,
        settings.labs_dir,
        IPv4Network("10.251.40.0/24"),
    )


def _template(settings: Settings, name: str, digests: dict[str, str]) -> Template:
    """A manifest naming blobs: machine -> the digest of its one layer."""
    return Template(
        name=name,
        digest=hashlib.sha256(name.encode()).hexdigest(),
        source_lab="src",
        profile="pair",
        created_at=STAMP,
        plan=_plan(settings),
        image_digests={},
        machines=tuple(
            TemplateMachine(name=m, layers=(TemplateLayer(layer=m, digest=d),))
            for m, d in digests.items()
        ),
        size=0,
    )


# -- the store ---------------------------------------------------------------------------


def test_put_file_links_the_file_in_as_a_read_only_blob(
    store: TemplateStore, tmp_path: Path
) -> None:
    source = _file(tmp_path / "gen" / "a.qcow2", b"frozen layer a")
    digest = store.put_file(source)
    assert digest == hashlib.sha256(b"frozen layer a").hexdigest()
    blob = store.blob(digest)
    assert blob.read_bytes() == b"frozen layer a"
    assert blob.stat().st_mode & 0o777 == 0o444
    assert blob.stat().st_ino == source.stat().st_ino  # the same file system: linked
    assert list((store.root / "tmp").iterdir()) == []

    twin = _file(tmp_path / "other" / "a.qcow2", b"frozen layer a")
    assert store.put_file(twin) == digest
    assert blob.stat().st_ino == source.stat().st_ino != twin.stat().st_ino
    assert [p.name for p in (store.root / "blobs").iterdir()] == [digest]


def test_put_file_copies_when_it_cannot_link(
    store: TemplateStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cross_device(src: object, dst: object) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)
    source = _file(tmp_path / "a.sav", b"memory state")
    digest = store.put_file(source)
    blob = store.blob(digest)
    assert blob.read_bytes() == b"memory state"
    assert blob.stat().st_ino != source.stat().st_ino
    assert blob.stat().st_mode & 0o777 == 0o444
    assert list((store.root / "tmp").iterdir()) == []


def test_manifests_are_listed_and_a_taken_name_is_refused(
    settings: Settings, store: TemplateStore, tmp_path: Path
) -> None:
    assert store.templates() == []
    a = store.put_file(_file(tmp_path / "a", b"a"))
    store.put_manifest(_template(settings, "web-1", {"a": a}))
    store.put_manifest(_template(settings, "base", {"a": a}))
    assert [t.name for t in store.templates()] == ["base", "web-1"]
    assert store.get("web-1").machines[0].layers[0].digest == a
    assert store.find("nothing") is None
    with pytest.raises(NotFoundError) as missing:
        store.get("nothing")
    assert "base, web-1" in missing.value.hint
    with pytest.raises(ConflictError) as taken:
        store.put_manifest(_template(settings, "web-1", {"a": a, "b": a}))
    assert "web-1" in taken.value.message and taken.value.hint
    assert len(store.get("web-1").machines) == 1  # the first one stays
    assert (store.root / "names").stat().st_mode & 0o777 == 0o700


def test_remove_deletes_only_blobs_no_other_template_holds(
    settings: Settings, store: TemplateStore, tmp_path: Path
) -> None:
    shared = store.put_file(_file(tmp_path / "shared", b"shared"))
    own = store.put_file(_file(tmp_path / "own", b"own"))
    other = store.put_file(_file(tmp_path / "other", b"other"))
    store.put_manifest(_template(settings, "one", {"a": shared, "b": own}))
    store.put_manifest(_template(settings, "two", {"a": shared, "b": other}))
    store.remove("one")
    assert [t.name for t in store.templates()] == ["two"]
    assert sorted(p.name for p in (store.root / "blobs").iterdir()) == sorted([shared, other])
    store.remove("two")
    assert store.templates() == []
    assert list((store.root / "blobs").iterdir()) == []


def test_collect_removes_orphans_only(
    settings: Settings, store: TemplateStore, tmp_path: Path
) -> None:
    assert store.collect() == []  # no store yet
    kept = store.put_file(_file(tmp_path / "kept", b"kept"))
    store.put_manifest(_template(settings, "one", {"a": kept}))
    orphan = store.put_file(_file(tmp_path / "orphan", b"a create killed half-way"))
    assert store.collect() == [orphan]
    assert [p.name for p in (store.root / "blobs").iterdir()] == [kept]


@pytest.mark.parametrize("name", ["a", "web-1", "0", "a" * 40, "x-y-z"])
def test_template_names(name: str) -> None:
    assert check_template_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "-a", "a-", "Web", "a_b", "a.b", "a" * 41, "../x", "a/b", "a b", "щ"]
)
def test_bad_template_names_are_refused_with_the_rule(name: str) -> None:
    with pytest.raises(InvalidError) as raised:
        check_template_name(name)
    assert raised.value.hint == TEMPLATE_RULE


def test_a_bad_name_is_refused_before_anything_is_read(settings: Settings) -> None:
    with pytest.raises(InvalidError):
        TemplateStore(settings).find("../state")
    with pytest.raises(InvalidError):
        templates.create(settings, "src", "../state")


# -- templates.create: only a verified lab's own baseline with every memory state --------


def _add_lab(
    settings: Settings,
    name: str = "src",
    *,
    passed: bool | None = True,
    template: str | None = None,
) -> LabRecord:
    stamp = now()
    plan = _plan(settings, name)
    record = LabRecord(
        name=name,
        profile="pair",
        profile_path=str(PROFILE),
        status=LabStatus.RUNNING,
        plan=plan,
        image_digests={layer: "0" * 64 for m in plan.machines for layer, _ in m.layers},
        template=template,
        verification=None
        if passed is None
        else VerificationSummary(
            passed=passed, at=stamp, total=2, failed=() if passed else ("pair: alive [a]",)
        ),
        created_at=stamp,
        updated_at=stamp,
    )
    StateStore.open(settings).add_lab(record)
    return record


def _baseline(plan: LabPlan, memory: tuple[str, ...], template: str | None = None) -> Baseline:
    """A baseline in force, its generation's files written (no qemu-img needed)."""
    baseline = Baseline(
        generation="20260102T030405-abcdef", created_at=STAMP, memory=memory, template=template
    )
    for machine in plan.machines:
        for layer, _ in machine.layers:
            _file(baseline.disk(plan, layer), f"disk {layer}".encode())
        if machine.name in memory:
            _file(baseline.memory_state(plan, machine.name), f"memory {machine.name}".encode())
    generations._write_atomically(generations.baselines_dir(plan) / "current.json", baseline)
    return baseline


@pytest.mark.parametrize("passed", [None, False])
def test_an_unverified_lab_gives_no_template(settings: Settings, passed: bool | None) -> None:
    record = _add_lab(settings, passed=passed)
    _baseline(record.plan, ("a", "b"))
    with pytest.raises(ConflictError) as raised:
        templates.create(settings, "src", "t1")
    assert "not verified" in raised.value.message
    assert "lab test src" in raised.value.hint
    assert TemplateStore(settings).templates() == []


def test_a_lab_without_baseline_gives_no_template(settings: Settings) -> None:
    _add_lab(settings)
    with pytest.raises(ConflictError) as raised:
        templates.create(settings, "src", "t1")
    assert "no baseline" in raised.value.message
    assert "lab baseline src" in raised.value.hint


def test_a_baseline_without_every_memory_state_gives_no_template(settings: Settings) -> None:
    record = _add_lab(settings)
    _baseline(record.plan, ("a",))
    with pytest.raises(ConflictError) as raised:
        templates.create(settings, "src", "t1")
    assert "no memory state of b" in raised.value.message
    assert raised.value.hint


def test_a_templates_state_gives_no_template(settings: Settings) -> None:
    record = _add_lab(settings, template="t0")
    _baseline(record.plan, ("a", "b"), template="t0")
    with pytest.raises(ConflictError) as raised:
        templates.create(settings, "src", "t1")
    assert "template t0" in raised.value.message
    assert "lab baseline src" in raised.value.hint
    assert TemplateStore(settings).templates() == []


def test_a_template_of_a_verified_baselined_lab(settings: Settings) -> None:
    record = _add_lab(settings)
    baseline = _baseline(record.plan, ("a", "b"))
    made = templates.create(settings, "src", "t1")
    plan = record.plan
    assert made.source_lab == "src" and made.profile == "pair"
    assert made.memory == ("a", "b")
    assert made.plan == plan
    assert made.verification == record.verification
    store = TemplateStore(settings)
    for machine in made.machines:
        (layer,) = machine.layers
        assert store.blob(layer.digest).samefile(baseline.disk(plan, machine.name))
        assert machine.memory is not None
        assert store.blob(machine.memory).samefile(baseline.memory_state(plan, machine.name))
        assert machine.nvram is None
    assert store.get("t1") == made
    with pytest.raises(ConflictError) as taken:
        templates.create(settings, "src", "t1")
    assert "exists already" in taken.value.message
    (info,) = templates.list_templates(settings)
    assert (info.name, info.machines, info.memory, info.used_by) == (
        "t1",
        ("a", "b"),
        ("a", "b"),
        (),
    )
    assert templates.get_template(settings, "t1") == info


# -- templates.delete: refused while a lab is cloned from it ----------------------------


def test_a_template_in_use_is_not_deleted(settings: Settings, tmp_path: Path) -> None:
    store = TemplateStore(settings)
    blob = store.put_file(_file(tmp_path / "a", b"a"))
    store.put_manifest(_template(settings, "t1", {"a": blob}))
    _add_lab(settings, "clone-1", template="t1")
    _add_lab(settings, "other")
    assert templates.used_by(settings, "t1") == ["clone-1"]
    assert templates.get_template(settings, "t1").used_by == ("clone-1",)
    with pytest.raises(ConflictError) as raised:
        templates.delete(settings, "t1")
    assert "clone-1" in raised.value.message and "other" not in raised.value.message
    assert raised.value.hint
    assert store.find("t1") is not None and store.blob(blob).exists()

    StateStore.open(settings).delete_lab("clone-1")
    templates.delete(settings, "t1")
    assert store.find("t1") is None
    assert not store.blob(blob).exists()
    with pytest.raises(NotFoundError):
        templates.delete(settings, "t1")


# -- a class: from a profile or from a template ------------------------------------------


@pytest.mark.parametrize(
    ("profile_path", "template"), [(None, None), (PROFILE, "t1")], ids=["neither", "both"]
)
def test_a_class_is_made_from_a_profile_or_a_template(
    settings: Settings, profile_path: Path | None, template: str | None
) -> None:
    with pytest.raises(InvalidError) as raised:
        classes.create(settings, profile_path, "grp", 2, template=template)
    assert "profile or from a template" in raised.value.message
    assert raised.value.hint
    assert classes.list_classes(settings) == []


def test_a_template_deleted_meanwhile_takes_none_of_a_new_ones_files(
    settings: Settings, tmp_path: Path
) -> None:
    """Deleting a template collects unreferenced blobs: a template still being made
    (its files stored, its manifest not yet written) must not lose them."""
    store = TemplateStore(settings)
    old = store.put_file(_file(tmp_path / "old", b"old"))
    store.put_manifest(_template(settings, "old", {"a": old}))
    record = _add_lab(settings)
    _baseline(record.plan, ("a", "b"))
    deleting: list[threading.Thread] = []

    def meanwhile(machine: str, message: str) -> None:
        if not deleting:  # once machine a's files are stored
            deleting.append(threading.Thread(target=templates.delete, args=(settings, "old")))
            deleting[0].start()
            deleting[0].join(0.5)

    made = templates.create(settings, "src", "new", meanwhile)
    deleting[0].join(10)
    assert not deleting[0].is_alive()
    assert [t.name for t in store.templates()] == ["new"]
    for digest in digests_of(made.machines):
        assert store.blob(digest).exists()
    assert not store.blob(old).exists()


def test_a_clone_on_a_lab_server_is_refused_at_once_where_it_cannot_go(
    settings: Settings, store: TemplateStore
) -> None:
    with store.lock():
        store.put_manifest(_template(settings, "t1", {"a": "aa" * 32, "b": "bb" * 32}))
    with pytest.raises(NotFoundError, match="no host named 'lab9'"):
        clones.check_new_clone(settings, "t1", "n1", host="lab9")
    HostStore.open(settings).add(
        HostRecord(name="lab2", uri="qemu+tls://lab2.invalid/system", added_at=now())
    )
    hosts.drain(settings, "lab2")
    with pytest.raises(ConflictError, match="host lab2 is draining"):
        clones.check_new_clone(settings, "t1", "n1", host="lab2")
    hosts.drain(settings, "lab2", draining=False)
    clones.check_new_clone(settings, "t1", "n1", host="lab2")  # a server takes it
