"""Wire types of the API: per-verb models, apart from the domain models they show.

Inputs forbid unknown fields; everything is frozen. `*Public` models are what a
client sees; `Model.of(record)` builds one from a domain object's attributes of the same
names (the few fields shown differently say how, beside the field).
"""

from __future__ import annotations

from datetime import datetime
from ipaddress import IPv4Address, IPv4Network
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AliasChoices,
    AliasPath,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    computed_field,
    model_validator,
)

from lab.access.users import Role
from lab.baselines.records import CHECKPOINT_NAME, CHECKPOINT_RULE
from lab.classes.access_sheet import AccessSheet
from lab.classes.classes import MAX_SEATS
from lab.classes.schedules import ScheduleStatus
from lab.courses.markdown import to_html
from lab.courses.model import Course, Task
from lab.courses.model import Text as CourseText
from lab.courses.outcomes import CheckOutcome
from lab.courses.results import AttemptRecord
from lab.courses.runs import Attempt, Board, RevealedHint, SeatCourse
from lab.host.model import LOCAL
from lab.images.ovf import HardwareHints
from lab.images.recipe import NAME_PATTERN as IMAGE_NAME
from lab.images.usage import ImageUse
from lab.labs.records import LabStatus
from lab.operations.store import OpStatus
from lab.templates.model import TEMPLATE_NAME, TEMPLATE_RULE

NAME = r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$"


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)

    @classmethod
    def of(cls, source: object) -> Self:
        """The public view of a domain object, read from its attributes."""
        return cls.model_validate(source, from_attributes=True)


# How a few domain values are shown (applied before validation).
Sorted = Annotated[list[str], BeforeValidator(sorted)]
Shown = Annotated[str, BeforeValidator(str)]
Count = Annotated[int, BeforeValidator(lambda v: v if isinstance(v, int) else len(v))]
Pairs = Annotated[dict[str, str], BeforeValidator(dict)]
# Names of things given as names or as objects with a name (a template's machines).
Names = Annotated[list[str], BeforeValidator(lambda v: [getattr(x, "name", x) for x in v])]


class _In(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ProblemPublic(_Out):
    file: str = ""
    line: int = 0
    column: int = 0
    path: str = ""
    message: str


class ErrorPublic(_Out):
    error: str
    hint: str = ""
    problems: list[ProblemPublic] = []


class Health(_Out):
    status: Literal["ok"] = "ok"


class UserPublic(_Out):
    name: str
    role: Role
    labs: Sorted
    classes: Sorted


class ProfileValidation(_Out):
    valid: Literal[True] = True
    community: str
    title: str
    machines: int


class ImagePublic(_Out):
    name: str
    digest: str
    format: str
    boot: str
    virtual_size: int
    disk_size: int
    created: datetime
    source: Annotated[str, BeforeValidator(lambda s: f"{s.kind}:{s.ref}")]  # "recipe:..."
    # The labs and templates that use it ("lab NAME", "template NAME").
    used_by: list[str] = []

    @classmethod
    def of_use(cls, use: ImageUse) -> Self:
        return cls.of(use.image).model_copy(update={"used_by": list(use.used_by)})


class PrunedBuildPublic(_Out):
    digest: str
    source: str
    created: datetime
    bytes: int


class ServerCopiesPublic(_Out):
    """A lab server's copies of image builds no longer in the store: deleted (or, dry
    run, would be), and kept because a volume or a domain there uses them."""

    host: str
    volumes: list[str]
    bytes: int
    kept: list[str]


class PrunedCopiesPublic(_Out):
    servers: list[ServerCopiesPublic]
    unanswered: list[str] = Field(description="Servers that did not answer: copies stay")


class PrunePublic(_Out):
    """The old image builds nothing used that were (or, dry run, would be) deleted, and
    the lab servers' copies of builds no longer in the store."""

    builds: list[PrunedBuildPublic]
    bytes_freed: int
    dry_run: bool
    copies: PrunedCopiesPublic


class ImageImport(_In):
    file: str = Field(
        min_length=1,
        max_length=255,
        description="A disk, .ova or .ovf in the server's import directory (LAB_IMPORT_DIR)",
    )
    name: str | None = Field(
        default=None, pattern=IMAGE_NAME, description="Default: made from the file's name"
    )


class ImportPublic(_Out):
    """What an import stored: one image per disk, the descriptor's hints, and the
    profile stanza (YAML) that runs it."""

    images: list[ImagePublic]
    hints: HardwareHints | None
    stanza: str


class LabCreate(_In):
    """From a catalogue profile, or cloned from a template (then `name` is needed)."""

    profile: str | None = Field(
        default=None, pattern=NAME, description="A profile of the catalogue, by name"
    )
    template: str | None = Field(
        default=None, pattern=TEMPLATE_NAME.pattern, description="A template, by name"
    )
    name: str | None = Field(
        default=None, pattern=NAME, description="Default: the community's (a profile's lab)"
    )
    host: str | None = Field(
        default=None,
        pattern=NAME,
        description="The lab host it runs on (GET /api/v1/hosts); default: local",
    )

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        _one_of(self.profile, self.template)
        if self.template is not None and self.name is None:
            raise ValueError("a lab cloned from a template needs a name")
        return self


def _one_of(profile: str | None, template: str | None) -> None:
    if (profile is None) == (template is None):
        raise ValueError("give either `profile` or `template`, not both and not neither")


class MachinePublic(_Out):
    name: str
    domain: str
    image: str
    address: Shown = Field(validation_alias="management_address")
    graphics: bool = False  # has a VNC display (a graphical console)
    managed: bool = True  # False: an appliance (run as it is, reached by its consoles only)


class LabPublic(_Out):
    name: str
    profile: str
    status: LabStatus
    machines: list[MachinePublic] = Field(validation_alias=AliasPath("plan", "machines"))
    template: str | None = None  # the template it was cloned from
    host: str = LOCAL  # the lab host it runs on
    # Its last verification passed (None: not verified yet): one a template may be made of.
    verified: bool | None = Field(
        default=None, validation_alias=AliasPath("verification", "passed")
    )
    created_at: datetime
    updated_at: datetime


class TemplatePublic(_Out):
    """A template: a verified lab's frozen state, to clone labs from."""

    name: str
    digest: str
    profile: str
    source_lab: str
    created_at: datetime
    machines: Names
    memory: list[str]  # machines whose memory state it holds (the others boot)
    size: int  # bytes on the server's disk
    used_by: list[str] = []  # labs cloned from it


class HostRoomPublic(_Out):
    """What the host has free for more labs, and why (the arithmetic admission uses):
    free = available - promised - reserve, in bytes."""

    host: str
    memory_available_bytes: int  # what the kernel says is available now
    memory_promised_bytes: int  # what labs being made or running will still take
    memory_reserve_bytes: int  # kept for the host itself
    memory_free_bytes: int  # what new labs may take
    disk_free_bytes: int  # under LAB_HOME


class HostPublic(_Out):
    """A lab host (server) and what it has, as `lab host list` shows it."""

    name: str  # `local`: the host of LAB_LIBVIRT_URI
    uri: str
    draining: bool  # keeps its labs, takes no new ones
    reachable: bool
    problem: str  # why it could not be read, when it could not
    hint: str
    accel: str | None  # "kvm" or "tcg"
    cpus: int | None
    memory_total_bytes: int | None
    memory_available_bytes: int | None
    disk_path: str | None
    disk_free_bytes: int | None
    labs: list[str]
    # What admission counts there for new labs: available - promised - reserve.
    memory_promised_bytes: int | None
    memory_reserve_bytes: int | None
    memory_free_for_labs_bytes: int | None


class TemplateCreate(_In):
    lab: str = Field(pattern=NAME, description="A verified lab with a baseline")
    name: str = Field(pattern=TEMPLATE_NAME.pattern, description=TEMPLATE_RULE)


class MachineStatusPublic(_Out):
    name: str
    state: str
    addresses: Pairs  # network -> address
    reachable: bool  # answers on SSH; an appliance: its ready probes pass
    agent: bool  # the QEMU guest agent answers


class LabStatusPublic(_Out):
    lab: LabPublic
    machines: list[MachineStatusPublic]


class LabPower(_In):
    action: Literal["start", "stop"]


class TaskRestartRequest(_In):
    task: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$",
        description="A task the seat has reached (default: its current task)",
    )


class ResetRequest(_In):
    cold: bool = Field(default=False, description="Boot from the disk layer, not memory")
    to: str | None = Field(
        default=None,
        pattern=CHECKPOINT_NAME.pattern,
        description="A checkpoint to go back to instead of the baseline",
    )


class CheckpointCreate(_In):
    name: str = Field(
        pattern=CHECKPOINT_NAME.pattern, description=f"The checkpoint's name: {CHECKPOINT_RULE}"
    )


class CheckpointPublic(_Out):
    name: str
    created_at: datetime
    memory: list[str]  # machines whose memory state it holds (the others boot)
    size: int  # bytes on the server's disk


class ClassCreate(_In):
    """Seats of a catalogue profile, or cloned from a template: give one of the two."""

    profile: str | None = Field(default=None, pattern=NAME)
    template: str | None = Field(
        default=None, pattern=TEMPLATE_NAME.pattern, description="Clone every seat from it"
    )
    name: str = Field(pattern=NAME, max_length=29)
    seats: int = Field(ge=1, le=MAX_SEATS)
    course: str | None = Field(
        default=None, pattern=NAME, description="A course of the catalogue for this profile"
    )

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        _one_of(self.profile, self.template)
        return self


class ProfileSourcePublic(_Out):
    name: str
    title: str


class TemplateSourcePublic(_Out):
    name: str
    profile: str


class ClassSourcesPublic(_Out):
    """What a new class's seats can come from: a profile or a template."""

    profiles: list[ProfileSourcePublic]
    templates: list[TemplateSourcePublic]


class ClassPublic(_Out):
    name: str
    profile: str
    seats: list[str]
    created_at: datetime
    course: str | None = None  # the course the class runs
    template: str | None = None  # the template its seats were cloned from


class OperationPublic(_Out):
    id: str
    kind: str
    target: str
    status: OpStatus
    created_by: str
    progress: str
    events: int
    result: Any
    error: str
    hint: str
    created_at: datetime
    updated_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def url(self) -> str:
        return f"/api/v1/operations/{self.id}"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def events_url(self) -> str:
        return f"{self.url}/events"


class EventPublic(_Out):
    seq: int
    at: datetime
    subject: str
    message: str


class ResetPublic(_Out):
    lab: str
    mode: str
    ok: bool
    seconds: float
    started_at: datetime
    note: str
    to: str | None = None  # the checkpoint it went back to; null: the baseline


class AuditPublic(_Out):
    id: int
    at: datetime
    user: str
    action: str
    target: str
    result: str
    detail: str


class TaskFailurePublic(_Out):
    machine: str
    role: str
    task: str
    message: str
    unreachable: bool


class ProvisionPublic(_Out):
    """What one provisioning (or apply) run did."""

    status: str
    seconds: float
    changed: dict[str, int]  # machine -> tasks that changed something
    ok: dict[str, int]
    role_seconds: dict[str, float]
    failures: list[TaskFailurePublic]


class CheckResultPublic(_Out):
    name: str
    machine: str
    role: str  # "profile" for the profile's own checks
    outcome: Annotated[Literal["passed", "failed", "error", "skipped"], BeforeValidator(str)]
    seconds: float
    message: str


class VerificationPublic(_Out):
    """The verdict of a lab's verification suite (JUnit: .../tests/latest/junit)."""

    lab: str
    passed: bool
    at: datetime
    seconds: float
    total: Count = Field(validation_alias=AliasChoices("results"))  # how many results
    failed: Count  # how many failed or were errors
    results: list[CheckResultPublic]


class ScheduleCreate(_In):
    at: datetime = Field(description="When, with a time zone: 2026-12-01T08:30:00+02:00")
    cold: bool = False


class SchedulePublic(_Out):
    id: int
    class_name: str
    at: datetime
    cold: bool
    status: ScheduleStatus
    operation_id: str | None  # the class-reset operation it started: its result is there
    note: str
    created_by: str
    created_at: datetime


class LoginRequest(_In):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class SessionPublic(_Out):
    """A login session: use `token` as a bearer token until `expires_at`."""

    token: str
    expires_at: datetime
    user: UserPublic


class SeatStatusPublic(_Out):
    seat: str
    status: LabStatus | None  # null: the seat's lab is missing
    ready: bool  # verified ready: its last reset (or, never reset, its verification) passed
    verified: bool | None
    baseline_at: datetime | None
    last_reset: ResetPublic | None
    host: str | None  # the lab host the seat runs on; null: the seat's lab is missing


class ClassStatusPublic(_Out):
    name: str
    profile: str
    seats: list[SeatStatusPublic]


class ConsoleTicketCreate(_In):
    kind: Literal["serial", "vnc"] = "serial"


class ConsoleTicketPublic(_Out):
    """A one-time ticket for a console websocket: open `url?ticket=TICKET` within
    `seconds`; it works once, for this user, lab, machine and kind only."""

    ticket: str
    kind: Literal["serial", "vnc"]
    url: str  # the websocket's path
    seconds: float


Text = Annotated[str, Field(max_length=200)]


class SheetMachinePublic(_In):
    machine: Text
    graphics: bool
    console_url: str = Field(max_length=2000)  # the web page's console of this machine
    account: Text  # the machine's trainee account ("" when the profile has none)
    password: Text  # its password, for the console
    address: Text  # on the lab's management network: reached from the Centre host only
    ssh_command: Text  # run on the Centre host; "" for an appliance (no SSH path)
    # An appliance's own logins as its profile documents them (the lab made no account).
    appliance_logins: list[Text] = Field(default=[], max_length=16)


class SheetEntryPublic(_In):
    seat: Text
    login: Text  # the web page's user name
    password: Text  # its password, new with this sheet
    machines: list[SheetMachinePublic] = Field(max_length=64)


class AccessSheetPublic(_In):
    """A class's access sheet. Its passwords are shown only here: a new sheet makes new
    ones. Also the body of `.../access-sheet/pdf`, which renders a sheet as a PDF."""

    class_name: Text
    title: Text
    made_at: datetime
    made_by: Text
    web_url: str = Field(max_length=2000)  # the web page's address
    entries: list[SheetEntryPublic] = Field(max_length=500)

    @classmethod
    def from_sheet(cls, sheet: AccessSheet, base_url: str) -> AccessSheetPublic:
        return cls(
            class_name=sheet.class_name,
            title=sheet.title,
            made_at=sheet.made_at,
            made_by=sheet.made_by,
            web_url=base_url,
            entries=[
                SheetEntryPublic(
                    seat=e.seat,
                    login=e.login,
                    password=e.password,
                    machines=[
                        SheetMachinePublic(
                            machine=m.machine,
                            graphics=m.graphics,
                            console_url=f"{base_url}#/console/{e.seat}/{m.machine}",
                            account=m.account,
                            password=m.password,
                            address=m.address,
                            ssh_command=f"lab ssh {e.seat} {m.machine}" if m.managed else "",
                            appliance_logins=list(m.appliance_logins),
                        )
                        for m in e.machines
                    ],
                )
                for e in sheet.entries
            ],
        )


# Courses: a class's ordered tasks (lab.courses). Words a trainee reads come as
# {uk, en}; `en` is the Ukrainian when the course gives no English.


class WordsPublic(_Out):
    uk: str
    en: str

    @classmethod
    def of(cls, source: object) -> Self:
        assert isinstance(source, CourseText)
        return cls(uk=source.get("uk"), en=source.get("en"))


class CourseTaskBrief(_Out):
    id: str
    title: WordsPublic
    machine: str
    points: int
    hints: int  # how many the task has
    checkpoint: str | None

    @classmethod
    def of(cls, source: object) -> Self:
        assert isinstance(source, Task)
        return cls(
            id=source.id,
            title=WordsPublic.of(source.title),
            machine=source.machine,
            points=source.points,
            hints=len(source.hints),
            checkpoint=source.checkpoint,
        )


class CoursePublic(_Out):
    name: str
    title: WordsPublic
    audience: WordsPublic
    description: WordsPublic | None
    profile: str
    points: int
    tasks: list[CourseTaskBrief]

    @classmethod
    def of_course(cls, name: str, course: Course) -> Self:
        return cls(
            name=name,
            title=WordsPublic.of(course.title),
            audience=WordsPublic.of(course.audience),
            description=WordsPublic.of(course.description) if course.description else None,
            profile=course.profile,
            points=course.points,
            tasks=[CourseTaskBrief.of(t) for t in course.tasks],
        )


class CheckOutcomePublic(_Out):
    kind: str
    machine: str
    ok: bool
    message: WordsPublic

    @classmethod
    def of(cls, source: object) -> Self:
        assert isinstance(source, CheckOutcome)
        return cls(
            kind=str(source.kind),
            machine=source.machine,
            ok=source.ok,
            message=WordsPublic.of(source.message),
        )


class LastAttemptPublic(_Out):
    at: datetime
    ok: bool
    seconds: float
    checks: list[CheckOutcomePublic]

    @classmethod
    def of(cls, source: object) -> Self:
        assert isinstance(source, AttemptRecord)
        return cls(
            at=source.at,
            ok=source.ok,
            seconds=source.seconds,
            checks=[CheckOutcomePublic.of(c) for c in source.checks],
        )


class SeatTaskPublic(_Out):
    id: str
    title: WordsPublic
    machine: str
    points: int
    state: str  # done | failing | not-started
    attempts: int
    hints_taken: int
    hints_total: int
    passed_at: datetime | None
    last: LastAttemptPublic | None


class CurrentTaskPublic(_Out):
    id: str
    number: int  # 1-based
    title: WordsPublic
    machine: str
    points: int
    instructions_html: WordsPublic  # rendered without raw HTML; links to http(s) only
    hints: list[WordsPublic]  # revealed so far
    hints_left: int
    started_at: datetime


class SeatCoursePublic(_Out):
    """A seat's course as its trainee sees it: every task's state, and the current one."""

    class_name: str
    seat: str
    course: str
    title: WordsPublic
    points: int
    earned: int
    current: str | None  # null: every task done
    tasks: list[SeatTaskPublic]
    task: CurrentTaskPublic | None

    @classmethod
    def of_seat(cls, seat: SeatCourse) -> Self:
        course = seat.course
        current = seat.current
        task = None
        if current is not None:
            task = CurrentTaskPublic(
                id=current.id,
                number=seat.index + 1,
                title=WordsPublic.of(current.title),
                machine=current.machine,
                points=current.points,
                instructions_html=WordsPublic(
                    uk=to_html(current.instructions.get("uk")),
                    en=to_html(current.instructions.get("en")),
                ),
                hints=[WordsPublic.of(h) for h in seat.hints],
                hints_left=len(current.hints) - len(seat.hints),
                started_at=seat.started_at,
            )
        return cls(
            class_name=seat.class_name,
            seat=seat.seat,
            course=seat.name,
            title=WordsPublic.of(course.title),
            points=course.points,
            earned=seat.earned,
            current=current.id if current else None,
            tasks=[
                SeatTaskPublic(
                    id=t.id,
                    title=WordsPublic.of(t.title),
                    machine=t.machine,
                    points=t.points,
                    state=str(c.state),
                    attempts=c.attempts,
                    hints_taken=c.hints_taken,
                    hints_total=len(t.hints),
                    passed_at=c.passed_at,
                    last=LastAttemptPublic.of(c.last) if c.last else None,
                )
                for t, c in zip(course.tasks, seat.cells, strict=True)
            ],
            task=task,
        )


class AttemptPublic(_Out):
    task: str
    ok: bool
    at: datetime
    seconds: float
    checks: list[CheckOutcomePublic]
    advanced_to: str | None  # the task the seat is on now, after a pass
    note: str

    @classmethod
    def of(cls, source: object) -> Self:
        assert isinstance(source, Attempt)
        return cls(
            task=source.task,
            ok=source.ok,
            at=source.at,
            seconds=source.seconds,
            checks=[CheckOutcomePublic.of(c) for c in source.checks],
            advanced_to=source.advanced_to,
            note=source.note,
        )


class HintPublic(_Out):
    task: str
    number: int
    hint: WordsPublic
    hints_left: int

    @classmethod
    def of(cls, source: object) -> Self:
        assert isinstance(source, RevealedHint)
        return cls(
            task=source.task,
            number=source.number,
            hint=WordsPublic.of(source.hint),
            hints_left=source.hints_left,
        )


class BoardTaskPublic(_Out):
    id: str
    title: WordsPublic
    points: int


class BoardCellPublic(_Out):
    id: str
    state: str
    attempts: int
    hints_taken: int
    first_at: datetime | None
    passed_at: datetime | None
    seconds_on_task: float | None


class BoardSeatPublic(_Out):
    seat: str
    trainees: list[str]
    current: str | None
    task_started_at: datetime | None
    earned: int
    tasks: list[BoardCellPublic] = Field(validation_alias="cells")


class BoardPublic(_Out):
    """Seats x tasks of a class's course: the trainer's board."""

    class_name: str
    course: str
    title: WordsPublic
    points: int
    tasks: list[BoardTaskPublic]
    seats: list[BoardSeatPublic]

    @classmethod
    def of_board(cls, board: Board) -> Self:
        return cls(
            class_name=board.class_name,
            course=board.name,
            title=WordsPublic.of(board.course.title),
            points=board.course.points,
            tasks=[
                BoardTaskPublic(id=t.id, title=WordsPublic.of(t.title), points=t.points)
                for t in board.course.tasks
            ],
            seats=[BoardSeatPublic.of(s) for s in board.seats],
        )


# A lab as a picture (lab.labs.topology) and a profile's preview (lab.labs.preview).


class TopologyNetworkPublic(_Out):
    name: str
    cidr: IPv4Network


class TopologyAddressPublic(_Out):
    network: str
    address: IPv4Address


class TopologyMachinePublic(_Out):
    name: str
    roles: list[str]
    appliance: bool
    addresses: list[TopologyAddressPublic]
    management_address: IPv4Address


class TopologyPublic(_Out):
    """A lab's networks and its machines on them, with every address."""

    lab: str
    profile: str
    networks: list[TopologyNetworkPublic]
    management: IPv4Network
    machines: list[TopologyMachinePublic]


class MachinePreviewPublic(_Out):
    name: str
    image: str
    memory_mib: int
    vcpus: int
    roles: list[str]
    appliance: bool
    addresses: list[TopologyAddressPublic]
    management_address: IPv4Address


class AccountPreviewPublic(_Out):
    """An account the lab would make: its name and groups, never a password."""

    name: str
    kind: str
    groups: list[str]


class TestPreviewPublic(_Out):
    __test__ = False

    name: str
    machine: str | None
    kind: Literal["run", "probe"]
    quick: bool


class SoftwarePreviewPublic(_Out):
    machine: str
    product: str
    vendor: str
    version: str


class ProfilePreviewPublic(_Out):
    """What starting a lab from a profile would make, planned without making anything
    (the management addresses are an example: a lab gets a free range)."""

    profile: str
    community: str
    title: str
    machines: list[MachinePreviewPublic]
    networks: list[TopologyNetworkPublic]
    accounts: list[AccountPreviewPublic]
    tests: list[TestPreviewPublic]
    software: list[SoftwarePreviewPublic]
    topology: TopologyPublic


class BaselinePublic(_Out):
    """When a lab's baseline in force was captured; `created_at` null: none yet."""

    lab: str
    created_at: datetime | None
