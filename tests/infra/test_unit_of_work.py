"""The one unit of work: commit on success, roll back and re-raise on failure, deferred jobs only after commit."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.infra import outbox
from portal.infra.unit_of_work import run, unit_of_work
from portal.models import User
from tests.support import factories

RAN: list[str] = []


def record(value: str) -> None:
    """A job target: notes that it ran."""
    RAN.append(value)


@pytest.fixture(autouse=True)
def _clear():
    RAN.clear()


def _emails() -> set[str]:
    return set(db.session.scalars(select(User.email)))


def test_the_block_commits_and_defers_run_after_the_commit():
    with unit_of_work():
        factories.make_user("reviewer", email="kept@staff.example")
        outbox.defer("tests.infra.test_unit_of_work.record", "after commit")
        assert RAN == []  # nothing starts before the commit
    assert RAN == ["after commit"]
    db.session.rollback()  # a later rollback cannot take back what was committed
    assert "kept@staff.example" in _emails()


def test_an_error_rolls_everything_back_starts_nothing_and_propagates():
    with pytest.raises(RuntimeError, match="boom"), unit_of_work():
        factories.make_user("reviewer", email="gone@staff.example")
        db.session.flush()
        outbox.defer("tests.infra.test_unit_of_work.record", "never")
        raise RuntimeError("boom")
    assert "gone@staff.example" not in _emails()
    assert RAN == []
    with unit_of_work():  # the next unit of work starts clean: the dropped job does not come back
        pass
    assert RAN == []


def test_run_returns_the_use_cases_result():
    assert run(lambda a, b=0: a + b, 2, b=3) == 5
