import subprocess
from pathlib import Path

import pytest

from lab.errors import ConflictError, NotFoundError
from lab.operations.store import OperationStore, OpStatus
from lab.store.state import StateStore


def _store(tmp_path: Path) -> OperationStore:
    return OperationStore(StateStore(tmp_path / "state.db"))


def test_lifecycle_with_events(tmp_path: Path) -> None:
    ops = _store(tmp_path)
    op = ops.create("reset", "lab/a", "olena")
    assert op.status is OpStatus.PENDING
    assert ops.start(op.id)
    ops.add_event(op.id, "m1", "verified")
    ops.add_event(op.id, "a", "ready")
    ops.finish(op.id, OpStatus.SUCCEEDED, result={"seconds": 1.5})
    done = ops.get(op.id)
    assert done.status is OpStatus.SUCCEEDED and done.result == {"seconds": 1.5}
    assert (done.events, done.progress) == (2, "a: ready")
    assert [e.message for e in ops.events(op.id)] == ["verified", "ready"]
    assert [e.seq for e in ops.events(op.id, after=1)] == [2]
    assert ops.counts() == {("reset", "succeeded"): 1}


def test_one_active_operation_per_target(tmp_path: Path) -> None:
    ops = _store(tmp_path)
    first = ops.create("reset", "lab/a", "olena")
    with pytest.raises(ConflictError):
        ops.create("down", "lab/a", "ivan")
    ops.create("reset", "lab/b", "olena")  # another lab is fine
    ops.finish(first.id, OpStatus.FAILED, error="boom")
    ops.create("down", "lab/a", "ivan")  # finished: free again


def test_cancel_only_while_pending(tmp_path: Path) -> None:
    ops = _store(tmp_path)
    op = ops.create("up", "lab/a", "olena")
    assert ops.cancel(op.id).status is OpStatus.CANCELED
    assert not ops.start(op.id)  # a worker picking it up later does nothing
    running = ops.create("up", "lab/b", "olena")
    ops.start(running.id)
    with pytest.raises(ConflictError):
        ops.cancel(running.id)
    with pytest.raises(NotFoundError):
        ops.cancel("nope")


def test_orphans_of_a_dead_process_are_failed(tmp_path: Path) -> None:
    ops = _store(tmp_path)
    mine = ops.create("up", "lab/a", "olena")
    orphan = ops.create("up", "lab/b", "olena")
    gone = subprocess.Popen(["true"])
    gone.wait()
    with ops.state.transaction() as db:
        db.execute("UPDATE operations SET pid = ? WHERE id = ?", (gone.pid, orphan.id))
    assert ops.fail_orphans() == [orphan.id]
    assert ops.get(orphan.id).status is OpStatus.FAILED
    assert ops.get(mine.id).status is OpStatus.PENDING
