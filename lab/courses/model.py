"""A course as frozen models: ordered tasks, each with instructions, hints, points and checks.

A course file (`courses/NAME.yaml`) is written by the Centre for one catalogue profile.
Texts a trainee reads are Ukrainian first, English optional: either a plain string
(Ukrainian) or `{uk: ..., en: ...}`. A check is one mapping whose kind is its first key
(`file:`, `service:`, `user:`, `port:`, `http:`, `command:`, `sql:`, `share:`); it is about
the task's machine unless it names another with `machine:`. Checks run from the host side
(lab.courses.checking): nothing here runs anything.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Discriminator, Field, Tag, model_validator

from lab.base import Frozen
from lab.baselines.records import CHECKPOINT_NAME, CHECKPOINT_RULE
from lab.profile.types import MachineName, PlainText, PosixName, fail, shown

Lang = Literal["uk", "en"]
TEXT_LIMIT = 200  # a value a check compares (text, a file name, a path)
COMMAND_LIMIT = 500
MARKDOWN_LIMIT = 20_000
MAX_TASKS = 50
MAX_CHECKS = 20
MAX_HINTS = 10
_TASK_ID = re.compile(r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$")
_UNIT = re.compile(r"^[A-Za-z0-9@._:-]{1,100}$")
_SHARE = re.compile(r"^[A-Za-z0-9._$-]{1,80}$")
_DATABASE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,62}$")


def _one_line(value: str, limit: int, what: str) -> str:
    if not value or len(value) > limit or not value.isprintable():
        raise fail(what, f"{shown(value)}: a {what} is one line of 1 to {limit} characters")
    return value


def _absolute_path(value: str) -> str:
    _one_line(value, TEXT_LIMIT, "path")
    if not value.startswith("/") or "/../" in value + "/" or "//" in value:
        raise fail("path", f"{shown(value)} is not an absolute path like /srv/shares/cnap")
    return value


def _value(value: str) -> str:
    return _one_line(value, TEXT_LIMIT, "text")


def _command(value: str) -> str:
    return _one_line(value, COMMAND_LIMIT, "command")


AbsolutePath = Annotated[str, BeforeValidator(_absolute_path)]
Value = Annotated[str, BeforeValidator(_value)]
Command = Annotated[str, BeforeValidator(_command)]


def _matches(regex: re.Pattern[str], rule: str) -> BeforeValidator:
    def check(value: Any) -> Any:
        if isinstance(value, str) and not regex.fullmatch(value):
            raise fail("name", f"{shown(value)} is not valid: {rule}")
        return value

    return BeforeValidator(check)


def _schema(regex: re.Pattern[str]) -> Any:
    return Field(json_schema_extra={"pattern": regex.pattern})


_ID_RULE = "use 1 to 40 lowercase letters, digits and hyphens"
TaskId = Annotated[str, _matches(_TASK_ID, _ID_RULE), _schema(_TASK_ID)]
CheckpointName = Annotated[
    str, _matches(CHECKPOINT_NAME, CHECKPOINT_RULE), _schema(CHECKPOINT_NAME)
]
UnitName = Annotated[
    str, _matches(_UNIT, "a systemd unit name such as smbd or nginx.service"), _schema(_UNIT)
]
ShareName = Annotated[
    str, _matches(_SHARE, "a share name: letters, digits, '.', '_', '-' and '$'"), _schema(_SHARE)
]
DatabaseName = Annotated[str, _matches(_DATABASE, "a PostgreSQL database name"), _schema(_DATABASE)]


class Text(Frozen):
    """Words for a person: Ukrainian, and English when given (else the Ukrainian is shown)."""

    uk: PlainText = Field(min_length=1)
    en: PlainText | None = Field(default=None, min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _plain_string(cls, data: Any) -> Any:
        return {"uk": data} if isinstance(data, str) else data

    def get(self, lang: Lang = "uk") -> str:
        return self.en if lang == "en" and self.en else self.uk


class Markdown(Text):
    """Instructions: Markdown (rendered without raw HTML), Ukrainian first."""

    uk: PlainText = Field(min_length=1, max_length=MARKDOWN_LIMIT)
    en: PlainText | None = Field(default=None, min_length=1, max_length=MARKDOWN_LIMIT)


class CheckKind(StrEnum):
    FILE = "file"  # a file or folder exists, holds a text, has an owner, group or rights
    SERVICE = "service"  # a systemd service is active (or not), enabled
    USER = "user"  # an account exists, is in groups
    PORT = "port"  # a TCP port answers (asked from a machine of the lab)
    HTTP = "http"  # a page answers and shows a text (asked from a machine of the lab)
    COMMAND = "command"  # a command's exit code and output (run as root on the machine)
    SQL = "sql"  # a PostgreSQL query returns a row (and a text in it)
    SHARE = "share"  # an SMB share holds a file (asked as a profile account, over SMB)


class BaseCheck(Frozen):
    machine: MachineName | None = Field(
        default=None, description="The machine checked; absent: the task's machine"
    )
    say: Text | None = Field(
        default=None,
        description="What the trainee reads when this check fails, instead of the default",
    )

    @property
    def kind(self) -> CheckKind:
        raise NotImplementedError


class FileCheck(BaseCheck):
    file: AbsolutePath = Field(description="Absolute path of the file or folder")
    exists: bool = Field(default=True, description="false: the check passes when it is absent")
    type: Literal["file", "directory", "any"] = "any"
    contains: Value | None = Field(default=None, description="A text the file holds")
    owner: PosixName | None = None
    group: PosixName | None = Field(default=None, description="The group that owns it")
    group_writable: bool | None = Field(
        default=None, description="Whether its group may write to it"
    )

    @property
    def kind(self) -> CheckKind:
        return CheckKind.FILE


class ServiceCheck(BaseCheck):
    service: UnitName
    active: bool = True
    enabled: bool | None = None

    @property
    def kind(self) -> CheckKind:
        return CheckKind.SERVICE


class UserCheck(BaseCheck):
    user: PosixName
    exists: bool = True
    groups: tuple[PosixName, ...] = Field(default=(), description="Groups it must be in")

    @property
    def kind(self) -> CheckKind:
        return CheckKind.USER


class FromCheck(BaseCheck):
    from_: MachineName | None = Field(
        default=None,
        alias="from",
        description="The managed machine that asks (absent: one on the same network)",
    )


class PortCheck(FromCheck):
    port: int = Field(ge=1, le=65535)
    open: bool = Field(default=True, description="false: the check passes when it is closed")

    @property
    def kind(self) -> CheckKind:
        return CheckKind.PORT


class HttpCheck(FromCheck):
    http: AbsolutePath = Field(description="The page's path, e.g. /index.php/Main_Page")
    port: int | None = Field(default=None, ge=1, le=65535)
    tls: bool = False
    status: int = Field(default=200, ge=100, le=599)
    shows: Value | None = Field(default=None, description="A text the page shows")

    @property
    def kind(self) -> CheckKind:
        return CheckKind.HTTP


class CommandCheck(BaseCheck):
    command: Command = Field(description="Run as root on the machine, by the shell")
    exit: int = Field(default=0, ge=0, le=255)
    output: Value | None = Field(default=None, description="A text its output holds")

    @property
    def kind(self) -> CheckKind:
        return CheckKind.COMMAND


class SqlCheck(BaseCheck):
    sql: Command = Field(description="A query, one line; passes when it returns a row")
    database: DatabaseName
    returns: Value | None = Field(default=None, description="A text one of its rows holds")

    @property
    def kind(self) -> CheckKind:
        return CheckKind.SQL


class ShareCheck(FromCheck):
    share: ShareName
    holds: Value = Field(description="A file (or folder) name at the share's top")
    account: PosixName = Field(description="The profile's staff account that looks")

    @property
    def kind(self) -> CheckKind:
        return CheckKind.SHARE


_KINDS: dict[str, type[BaseCheck]] = {
    CheckKind.FILE: FileCheck,
    CheckKind.SERVICE: ServiceCheck,
    CheckKind.USER: UserCheck,
    CheckKind.PORT: PortCheck,
    CheckKind.HTTP: HttpCheck,
    CheckKind.COMMAND: CommandCheck,
    CheckKind.SQL: SqlCheck,
    CheckKind.SHARE: ShareCheck,
}


def check_kind_of(data: Any) -> str | None:
    """The kind of a check written as a mapping: the one kind key it has (None: none, or
    several, which validation then reports)."""
    if isinstance(data, Frozen):
        return str(getattr(data, "kind", None))
    if not isinstance(data, dict):
        return None
    found = [k for k in _KINDS if k in data]
    if found == [CheckKind.PORT, CheckKind.HTTP]:
        return CheckKind.HTTP  # `port` is also an option of a page's check
    return found[0] if len(found) == 1 else None


CourseCheck = Annotated[
    Annotated[FileCheck, Tag(CheckKind.FILE)]
    | Annotated[ServiceCheck, Tag(CheckKind.SERVICE)]
    | Annotated[UserCheck, Tag(CheckKind.USER)]
    | Annotated[PortCheck, Tag(CheckKind.PORT)]
    | Annotated[HttpCheck, Tag(CheckKind.HTTP)]
    | Annotated[CommandCheck, Tag(CheckKind.COMMAND)]
    | Annotated[SqlCheck, Tag(CheckKind.SQL)]
    | Annotated[ShareCheck, Tag(CheckKind.SHARE)],
    Discriminator(
        check_kind_of,
        custom_error_type="check_kind",
        custom_error_message="a check has exactly one of the keys "
        + ", ".join(_KINDS)
        + " (its kind)",
    ),
]


class Task(Frozen):
    id: TaskId = Field(description="Short name, unique in the course, e.g. share-folder")
    title: Text
    machine: MachineName = Field(description="The machine the task is about")
    instructions: Markdown
    checks: tuple[CourseCheck, ...] = Field(min_length=1, max_length=MAX_CHECKS)
    hints: tuple[Text, ...] = Field(default=(), max_length=MAX_HINTS)
    points: int = Field(default=1, ge=0, le=1000)
    checkpoint: CheckpointName | None = Field(
        default=None,
        description="A named checkpoint of the seat's lab this task starts from",
    )

    def machine_of(self, check: BaseCheck) -> str:
        return str(check.machine or self.machine)


class Course(Frozen):
    title: Text
    audience: Text
    profile: str = Field(description="The catalogue profile the course runs on")
    description: Text | None = None
    tasks: tuple[Task, ...] = Field(min_length=1, max_length=MAX_TASKS)

    @model_validator(mode="after")
    def _unique_tasks(self) -> Course:
        seen: set[str] = set()
        for task in self.tasks:
            if task.id in seen:
                raise ValueError(f"two tasks have the id {task.id!r}")
            seen.add(task.id)
        return self

    def task(self, task_id: str) -> Task:
        for task in self.tasks:
            if task.id == task_id:
                return task
        raise KeyError(task_id)

    @property
    def points(self) -> int:
        return sum(t.points for t in self.tasks)
