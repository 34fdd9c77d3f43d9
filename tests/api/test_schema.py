"""The API against its own OpenAPI document, with schemathesis.

Every operation of the served /openapi.json gets generated requests (as admin), valid
ones and invalid ones: no answer may be a 5xx, and every answer must be documented: its
status code, its content type and its body's schema. Path parameters and bodies are
drawn both at random and from what the state store holds (labs, a class, a profile,
operations, schedules), so that the 2xx paths are reached too, not only 404s.

Slow actions answer 202 and run in the app's worker threads against libvirt's test
driver, where they fail at once (no domains, no images). The two that would start
subprocesses for seconds (a test run with pytest+testinfra, an apply with Ansible) are
replaced by stand-ins that fail at once: their HTTP side is what is checked here. The
templates' use cases are faked over two templates (tests/template_fakes.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.hooks import HookContext
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

from lab.errors import InvalidError
from lab.operations.store import OperationStore, OpStatus
from lab.settings import Settings
from lab.software import stack
from tests.template_fakes import install_template_fakes

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Per operation and mode; small, and derandomized: the same requests every run.
EXAMPLES = hypothesis_settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
# What exists, by the resource a path names: the conftest's `tokens` fixture records
# these labs and class (and users of every role); the profile is the catalogue's.
NAMES = {
    "labs": ("c1-01", "c1-02", "mine", "other"),
    "classes": ("c1",),
    "profiles": ("tiny",),
    "templates": ("t1", "t2"),  # the fakes' (tests/template_fakes.py)
}
# A valid profile (schemathesis sends a YAML body as the YAML dump of what it holds).
TINY = yaml.safe_load((Path(__file__).parents[2] / "profiles" / "tiny.yaml").read_text())


def _not_here(*_args: object, **_kwargs: object) -> object:
    raise InvalidError("not run in the schema test", hint="tests/integration runs it")


@pytest.fixture
def api_schema(
    app: FastAPI,
    settings: Settings,
    tokens: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[OpenApiSchema]:
    monkeypatch.setattr(stack, "test", _not_here)
    monkeypatch.setattr(stack, "apply", _not_here)
    install_template_fakes(monkeypatch, settings)
    operations = OperationStore.open(settings)
    finished = []
    for status in (OpStatus.SUCCEEDED, OpStatus.FAILED):
        op = operations.create("reset", "lab/other", "admin")
        operations.add_event(op.id, "operation", "reset lab/other: running")
        operations.finish(op.id, status, error="" if status is OpStatus.SUCCEEDED else "boom")
        finished.append(op.id)
    # Schedules get ids from 1, as the POSTs of this test make them.
    known: dict[str, tuple[object, ...]] = {"op_id": tuple(finished), "schedule_id": (1, 2)}

    loaded = schemathesis.openapi.from_asgi("/openapi.json", app)

    @loaded.hook
    def flatmap_path_parameters(
        context: HookContext, path_parameters: dict[str, Any] | None
    ) -> st.SearchStrategy[dict[str, Any] | None]:
        """Each parameter: what was generated, or something that exists."""
        if not path_parameters or context.operation is None:
            return st.just(path_parameters)
        resource = context.operation.path.split("/")[3]  # /api/v1/RESOURCE/...
        choices = {**known, "name": NAMES.get(resource, ())}
        drawn = {
            key: st.sampled_from([value, *choices.get(key, ())])
            for key, value in path_parameters.items()
        }
        return st.fixed_dictionaries(drawn)

    @loaded.hook
    def flatmap_body(context: HookContext, body: Any) -> st.SearchStrategy[Any]:
        """A body naming a profile: sometimes one of the catalogue's; a profile to
        validate: sometimes a valid one."""
        if isinstance(body, dict) and "profile" in body:
            return st.sampled_from([body, *({**body, "profile": p} for p in NAMES["profiles"])])
        if isinstance(body, dict) and "template" in body:
            return st.sampled_from([body, *({**body, "template": t} for t in NAMES["templates"])])
        if context.operation is not None and context.operation.path.endswith("/validate"):
            return st.sampled_from([body, TINY])
        return st.just(body)

    yield loaded
    # schemathesis started the app's lifespan (the scheduler thread): end it. And no
    # worker thread outlives the test: queued work is dropped, running work finishes
    # (each fails within a second against the test driver).
    shutdown_lifespans()
    app.state.runner.pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_conforms_to_the_schema(
    api_schema: OpenApiSchema, headers: dict[str, dict[str, str]], mode: GenerationMode
) -> None:
    admin = headers["admin"]
    tested, failures = [], []
    # Deletions last: until then, the other operations find the labs and the class.
    operations = []
    for result in api_schema.get_all_operations():
        assert isinstance(result, Ok), result.err()  # the document itself is valid
        operations.append(result.ok())
    for operation in sorted(operations, key=lambda op: op.method.upper() == "DELETE"):

        @EXAMPLES
        @given(operation.as_strategy(generation_mode=mode))
        def conforms(case: Case[Any]) -> None:
            case.call_and_validate(headers=dict(admin), checks=CHECKS)  # it adds to them

        try:
            conforms()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # no input to make invalid: nothing to do
            continue
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - report them all at once
            failures.append(f"{operation.label}: {type(exc).__name__}: {exc}")
        tested.append(operation.label)
    assert len(tested) > (30 if mode is GenerationMode.POSITIVE else 20), tested
    assert not failures, "\n\n".join(failures)
