"""Accelerator choice from fabricated host facts, and the fact gathering helpers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from lab.driver import CpuMode, VirtType
from lab.errors import HostError
from lab.host.facts import (
    AccelChoice,
    HostFacts,
    ToolFact,
    choose_accel,
    choose_server_accel,
    gather_facts,
)
from lab.host.images import MARK, copied_build, server_files
from lab.images.model import Boot, Image, Source, SourceKind
from lab.settings import Accel


def facts(*, exists: bool = True, accessible: bool = True, pvm: bool = False) -> HostFacts:
    return HostFacts(
        kvm_exists=exists,
        kvm_accessible=accessible,
        kvm_pvm=pvm,
        memory_available_bytes=8 << 30,
        disk_path=Path("/var/lib"),
        disk_free_bytes=100 << 30,
    )


TCG = (VirtType.QEMU, CpuMode.NEHALEM)
KVM = (VirtType.KVM, CpuMode.HOST_PASSTHROUGH)


def kind(choice: AccelChoice) -> tuple[VirtType, CpuMode]:
    return choice.virt_type, choice.cpu


def test_auto_on_a_normal_kvm_host_uses_kvm() -> None:
    choice = choose_accel(Accel.AUTO, facts())
    assert kind(choice) == KVM
    assert "usable" in choice.reason


def test_auto_under_pvm_uses_tcg_and_says_why() -> None:
    choice = choose_accel(Accel.AUTO, facts(pvm=True))
    assert kind(choice) == TCG
    assert "PVM" in choice.reason and choice.reason.endswith("so TCG")


def test_auto_without_kvm_uses_tcg() -> None:
    choice = choose_accel(Accel.AUTO, facts(exists=False, accessible=False))
    assert kind(choice) == TCG
    assert "no /dev/kvm" in choice.reason


def test_auto_with_unreadable_kvm_uses_tcg() -> None:
    choice = choose_accel(Accel.AUTO, facts(accessible=False))
    assert kind(choice) == TCG
    assert "not accessible" in choice.reason


def test_explicit_tcg_always_tcg() -> None:
    for host in (facts(), facts(pvm=True), facts(exists=False, accessible=False)):
        choice = choose_accel(Accel.TCG, host)
        assert kind(choice) == TCG
        assert choice.reason == "LAB_ACCEL=tcg"


def test_explicit_kvm_on_a_kvm_host() -> None:
    choice = choose_accel(Accel.KVM, facts())
    assert kind(choice) == KVM
    assert choice.reason == "LAB_ACCEL=kvm"


@pytest.mark.parametrize(
    ("host", "words"),
    [
        (facts(pvm=True), "PVM"),
        (facts(exists=False, accessible=False), "no /dev/kvm"),
        (facts(accessible=False), "not accessible"),
    ],
)
def test_explicit_kvm_when_unusable_is_an_error_with_hint(host: HostFacts, words: str) -> None:
    with pytest.raises(HostError) as caught:
        choose_accel(Accel.KVM, host)
    assert words in caught.value.message
    assert "LAB_ACCEL=auto" in caught.value.hint


def test_missing_tools() -> None:
    host = facts().model_copy(
        update={
            "tools": (
                ToolFact(program="qemu-img", package="qemu-utils", path="/usr/bin/qemu-img"),
                ToolFact(program="mmdebstrap", package="mmdebstrap", path=None),
            )
        }
    )
    assert [t.package for t in host.missing_tools] == ["mmdebstrap"]


def test_gather_facts_measures_nearest_existing_parent(tmp_path: Path) -> None:
    home = tmp_path / "not" / "yet" / "there"
    seen = gather_facts(home)
    assert seen.disk_path == tmp_path
    assert seen.disk_free_bytes > 0
    assert seen.memory_available_bytes > 0
    assert {t.program for t in seen.tools} >= {"qemu-img", "qemu-system-x86_64", "mmdebstrap"}


def _host_check(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, uri: str) -> tuple[int, str]:
    import typer
    from typer.testing import CliRunner

    from lab.cli import host as host_cli
    from lab.settings import get_settings

    monkeypatch.setenv("LAB_LIBVIRT_URI", uri)
    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    monkeypatch.setenv("LAB_ACCEL", "tcg")
    get_settings.cache_clear()
    app = typer.Typer()
    host_cli.register(app)
    try:
        result = CliRunner().invoke(app, ["host", "check"])
    finally:
        get_settings.cache_clear()
    return result.exit_code, result.output


@pytest.mark.driver
def test_host_check_against_the_test_driver(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    code, output = _host_check(monkeypatch, tmp_path, "test:///default")
    assert "LAB_ACCEL=tcg" in output and "qemu-img" in output
    assert "TEST" in output  # the hypervisor row, through the driver
    missing = gather_facts(tmp_path).missing_tools
    assert code == (1 if missing else 0)


@pytest.mark.driver
def test_host_check_without_libvirtd_says_so_and_fails(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    code, output = _host_check(
        monkeypatch, tmp_path, "qemu+unix:///system?socket=/nonexistent/sock"
    )
    assert code == 1
    assert "unreachable" in output and "scripts/labns up" in output
    assert "qemu-img" in output  # everything else is still shown


def test_a_server_gets_kvm_when_its_libvirt_offers_it_unless_told_tcg() -> None:
    offered = choose_server_accel(Accel.AUTO, "lab2", kvm=True)
    assert offered.virt_type is VirtType.KVM and "lab2 offers KVM" in offered.reason
    told = choose_server_accel(Accel.TCG, "lab2", kvm=True, tb_cache_mib=256)
    assert told.virt_type is VirtType.QEMU and told.tb_cache_mib == 256
    assert told.kernel_args == ("mitigations=off",)
    none = choose_server_accel(Accel.AUTO, "lab2", kvm=False)
    assert none.virt_type is VirtType.QEMU and "offers no KVM" in none.reason
    with pytest.raises(HostError, match="libvirt on host lab2 offers no KVM"):
        choose_server_accel(Accel.KVM, "lab2", kvm=False)


def test_a_copied_build_is_known_by_its_files_and_marks_and_nothing_else_is() -> None:
    digest = "ab" * 32
    image = Image(
        name="debian-12",
        digest=digest,
        boot=Boot.KERNEL,
        kernel="vmlinuz",
        initrd="initrd.img",
        virtual_size=1 << 30,
        disk_size=1 << 28,
        created=datetime(2026, 12, 5, tzinfo=UTC),
        source=Source(kind=SourceKind.RECIPE, ref="debian-12.yaml", sha256=digest),
    )
    for volume in server_files(image):
        assert volume is not None
        assert copied_build(volume) == digest
        assert copied_build(volume + MARK) == digest
    # a template's files, a lab's disks on the server, a short or foreign name: not a build
    for other in (
        f"{digest}.layer.qcow2",
        f"{digest}.state.sav",
        f"{digest}.nvram.fd",
        "hl-demo.web.template-stack.qcow2",
        f"{digest[:12]}.disk.qcow2",
        f"../{digest}.disk.qcow2",
    ):
        assert copied_build(other) is None
