"""Settings from `LAB_*` environment variables, read once into a frozen model."""

from __future__ import annotations

import os
from enum import StrEnum
from functools import lru_cache
from ipaddress import IPv4Network
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from lab.host.model import Accel as Accel  # the setting's values, where a host keeps its own


def _default_profiles() -> Path:
    # The repository's own catalogue: `lab serve` from a checkout lists profiles/.
    return Path(__file__).resolve().parents[1] / "profiles"


def _repo_dir(name: str) -> Path:
    return Path(__file__).resolve().parents[1] / name


def _default_home() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/hromada-lab")
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "hromada-lab"


class NicFilter(StrEnum):
    """The libvirt network filter on every lab NIC (`LAB_NIC_FILTER`).

    A guest may send only from its own MAC and its planned IP address, and no layer-2
    protocol but IPv4 and ARP: a trainee cannot spoof another machine.
    `hromada-lab-nic`: the orchestrator's own one-chain filter (lab/driver/nwfilter_xml.py),
    defined in libvirt on first use; `clean-traffic`: libvirt's stock filter, the same
    effect, slower to build at a machine's first start; `none`: no filter (a libvirt
    without nwfilter). Either filter is built once per NIC and kept across resets
    (lab.driver.filter_bindings).
    """

    LAB = "hromada-lab-nic"
    CLEAN_TRAFFIC = "clean-traffic"
    NONE = "none"


class Settings(BaseSettings):
    """Everything the orchestrator reads from its environment (see README, "Settings")."""

    model_config = SettingsConfigDict(env_prefix="LAB_", frozen=True, extra="ignore")

    home: Path = Field(default_factory=_default_home)
    libvirt_uri: str = "qemu:///system"
    accel: Accel = Accel.AUTO
    # Empty means: let mmdebstrap use the host's own apt sources for the suite.
    debian_mirror: str = ""
    # Prefix of every object this project creates in libvirt (domains, networks).
    prefix: str = "hl-"
    # Each lab gets one /24 of this pool for its management network (host <-> guests).
    mgmt_pool: IPv4Network = IPv4Network("10.250.0.0/16")
    # The network filter on lab NICs: anti-spoofing (see NicFilter).
    nic_filter: NicFilter = NicFilter.LAB
    # How many labs (seats of a class) are brought up, baselined or reset at once.
    parallel: int = Field(default=4, ge=1, le=64)
    # How long `up`/`start` wait for a guest to answer on SSH and finish cloud-init. A TCG
    # boot of a role image takes ~30 s alone, 140-170 s two at once, more on a busy host.
    boot_timeout: float = 600.0
    # Under TCG, the size of each guest's translated-code cache in MiB; 0: QEMU's own
    # (1 GiB). It is memory QEMU holds beside the guest's own: a 512 MiB guest held
    # ~1.7 GiB with QEMU's cache after provisioning, and placement counts it per guest.
    tcg_cache: int = Field(default=256, ge=0, le=4096)
    # How many machines boot at once on this host, all labs together (the seats of a
    # class share them); 0: as many as the host has cores under TCG (emulated boots are
    # CPU-bound), 16 under KVM.
    boot_parallel: int = Field(default=0, ge=0, le=64)
    # How many labs one user (a tester, through the API) may have at once, those being
    # made included; staff and classes are not counted against it.
    labs_per_user: int = Field(default=3, ge=0, le=1000)
    # The profile catalogue the API lists and creates labs from.
    profiles_dir: Path = Field(default_factory=_default_profiles)
    # The course catalogue (courses/NAME.yaml): what a class may run (lab.courses).
    courses_dir: Path = Field(default_factory=lambda: _repo_dir("courses"))
    # How often `lab serve` looks for scheduled class resets that are due (seconds).
    schedule_poll: float = Field(default=10.0, gt=0)
    # Image recipes (images/*.yaml): `lab prepare` bakes roles' packages onto them.
    recipes_dir: Path = Field(default_factory=lambda: _repo_dir("images"))
    # Ansible roles (playbooks/roles/ROLE) and their testinfra tests.
    playbooks_dir: Path = Field(default_factory=lambda: _repo_dir("playbooks"))
    # Failed logins per account and source before both are refused for `login_window`
    # seconds (per source: 4x, per account from anywhere: 10x; see lab.access.throttle).
    login_attempts: int = Field(default=5, ge=1)
    login_window: float = Field(default=900.0, gt=0)
    # Password hashes (scrypt: 16 MiB, ~50 ms each) computed at once; more logins wait
    # briefly or are refused (429). 0: one per core.
    login_hashes: int = Field(default=0, ge=0)
    # Where staff drop the disks and OVAs the API imports (`POST /api/v1/images/import`
    # names a file in it); unset: $LAB_HOME/import.
    import_dir: Path | None = None
    # On each lab host added with `lab host add`: the directory of the storage pool
    # (`hromada-lab`, made by libvirt there on the host's first add) that lab volumes go to.
    host_pool: Path = Path("/var/lib/libvirt/hromada-lab")
    # `lab serve` over TLS: the certificate (chain) and its private key, PEM files.
    tls_cert: Path | None = None
    tls_key: Path | None = None

    @property
    def hash_workers(self) -> int:
        return self.login_hashes or os.cpu_count() or 1

    @property
    def boot_slots_dir(self) -> Path:
        """The host's boot slots (lab.host.slots), shared by every lab of this LAB_HOME."""
        return self.home / "locks" / "boot-slots"

    @property
    def images_dir(self) -> Path:
        return self.home / "images"

    @property
    def drop_dir(self) -> Path:
        """The directory the API imports images from (`LAB_IMPORT_DIR`)."""
        return self.import_dir or self.home / "import"

    @property
    def labs_dir(self) -> Path:
        return self.home / "labs"

    @property
    def templates_dir(self) -> Path:
        return self.home / "templates"

    @property
    def state_db(self) -> Path:
        return self.home / "state.db"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()
