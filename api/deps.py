"""What every route may depend on: the settings and stores built once by the app factory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from lab.access.audit import AuditLog
from lab.access.users import UserStore
from lab.operations.runner import Runner
from lab.operations.store import OperationStore
from lab.settings import Settings
from lab.store.state import StateStore


@dataclass(frozen=True)
class Stores:
    state: StateStore
    users: UserStore
    operations: OperationStore
    audit: AuditLog

    @classmethod
    def open(cls, settings: Settings) -> Stores:
        state = StateStore.open(settings)
        return cls(state, UserStore(state), OperationStore(state), AuditLog(state))


# Plain attribute reads: `async` so that FastAPI does not hop to a worker thread for them.
async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _stores(request: Request) -> Stores:
    stores: Stores = request.app.state.stores
    return stores


async def _runner(request: Request) -> Runner:
    runner: Runner = request.app.state.runner
    return runner


SettingsDep = Annotated[Settings, Depends(_settings)]
StoresDep = Annotated[Stores, Depends(_stores)]
RunnerDep = Annotated[Runner, Depends(_runner)]
