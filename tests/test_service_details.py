"""Details of the small services: what a job run records, which terminal keys a revocation
takes, which database errors count as lock contention."""

import pytest
from django.db import OperationalError

from loyalty.models import TaskRun, TerminalKey
from loyalty.services.contention import is_contention
from loyalty.services.task_runs import run_recorded
from loyalty.services.terminal_keys import revoke_terminal_keys
from tests.factories import TerminalKeyFactory


def test_a_run_without_a_scope_is_recorded_with_an_empty_scope(db):
    assert run_recorded(task="loyalty.expire_points", work=lambda: {"cards": 3}) == {"cards": 3}
    run = TaskRun.objects.get()
    assert (run.task, run.scope, run.status, run.counts) == (
        "loyalty.expire_points",
        "",
        TaskRun.Status.SUCCEEDED,
        {"cards": 3},
    )
    assert run.started_at <= run.finished_at


def test_a_failed_run_keeps_the_outermost_twenty_frames_of_its_traceback(db):
    def recurse(depth):
        if depth == 0:
            raise ValueError("deep failure")
        recurse(depth - 1)

    with pytest.raises(ValueError):
        run_recorded(task="loyalty.expire_points", work=lambda: recurse(50), scope="alice")
    run = TaskRun.objects.get()
    assert (run.scope, run.status) == ("alice", TaskRun.Status.FAILED)
    # Twenty frames: run_recorded, the lambda, then 18 of the 51 frames of recurse (the last
    # 15 of them folded by the traceback module).
    assert run.error.count('File "') == 5
    assert "[Previous line repeated 15 more times]" in run.error
    assert run.error.rstrip().endswith("ValueError: deep failure")
    assert run.finished_at is not None


def test_revoking_takes_only_the_named_live_keys_of_the_store(store, other_store):
    till = TerminalKeyFactory(store=store, name="till")
    TerminalKeyFactory(store=store, name="till", revoked=True)
    tablet = TerminalKeyFactory(store=store, name="tablet")
    elsewhere = TerminalKeyFactory(store=other_store, name="till")

    assert revoke_terminal_keys(store=store, name="till") == 1
    revoked = set(TerminalKey.objects.filter(revoked=True).values_list("pk", flat=True))
    assert till.pk in revoked
    assert not revoked & {tablet.pk, elsewhere.pk}


@pytest.mark.parametrize(
    ("message", "contention"),
    [("database is locked", True), ("no such table: loyalty_card", False)],
)
def test_sqlite_contention_is_told_by_its_message(message, contention):
    assert is_contention(OperationalError(message)) is contention
