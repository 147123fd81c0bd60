"""Gapless document numbers: per kind and year, consecutive, never reused, and a rolled-back issue gives its number
back; 50 concurrent issues on PostgreSQL take 50 consecutive numbers."""

from __future__ import annotations

import threading

import pytest

from portal.errors import ValidationError
from portal.extensions import db
from portal.services.receivables import numbering
from tests.support.workflow import migrated_postgres


def test_each_kind_and_year_counts_from_one(app):
    assert [numbering.next_number("invoice", 2026) for _ in range(3)] == \
        ["INV-2026-000001", "INV-2026-000002", "INV-2026-000003"]
    assert numbering.next_number("credit_note", 2026) == "CN-2026-000001"
    assert numbering.next_number("due_note", 2026) == "DN-2026-000001"
    assert numbering.next_number("invoice", 2027) == "INV-2027-000001"
    db.session.commit()
    assert numbering.next_number("invoice", 2026) == "INV-2026-000004"


def test_a_rolled_back_issue_gives_its_number_back(app):
    assert numbering.next_number("invoice", 2026) == "INV-2026-000001"
    db.session.commit()
    with pytest.raises(RuntimeError), db.session.begin_nested():
        assert numbering.next_number("invoice", 2026) == "INV-2026-000002"
        raise RuntimeError("the issue failed after taking its number")
    assert numbering.next_number("invoice", 2026) == "INV-2026-000002"


def test_a_rolled_back_first_number_of_a_year_is_given_again(app):
    with pytest.raises(RuntimeError), db.session.begin_nested():
        numbering.next_number("due_note", 2030)
        raise RuntimeError("failed")
    assert numbering.next_number("due_note", 2030) == "DN-2030-000001"


@pytest.mark.parametrize(("kind", "year", "errors"), [
    ("receipt", 2026, {"kind": "must be one of invoice, credit_note, due_note"}),
    ("invoice", 1999, {"year": "must be a year from 2000 to 9999"}),
    ("invoice", 10000, {"year": "must be a year from 2000 to 9999"}),
    ("invoice", "2026", {"year": "must be a year from 2000 to 9999"}),
    ("invoice", True, {"year": "must be a year from 2000 to 9999"}),
])
def test_an_unknown_kind_or_a_year_out_of_range_is_refused(app, kind, year, errors):
    with pytest.raises(ValidationError) as refused:
        numbering.next_number(kind, year)
    assert refused.value.errors == errors


@pytest.mark.no_db
def test_fifty_concurrent_issues_on_postgresql_take_fifty_consecutive_numbers_and_a_failed_one_leaves_no_gap():
    with migrated_postgres() as app:
        start = threading.Barrier(51)
        taken: dict[int, str] = {}
        outcomes: dict[int, str] = {}

        def issue(index: int) -> None:
            with app.app_context():
                start.wait()
                try:
                    number = numbering.next_number("invoice", 2026)
                    if index == 25:
                        raise RuntimeError("rendering the invoice failed")
                    db.session.commit()
                    taken[index] = number
                    outcomes[index] = "ok"
                except RuntimeError:
                    db.session.rollback()
                    outcomes[index] = "failed"
                finally:
                    db.session.remove()

        threads = [threading.Thread(target=issue, args=(index,)) for index in range(51)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert sorted(outcomes.values()) == ["failed"] + ["ok"] * 50
        assert sorted(taken.values()) == [f"INV-2026-{n:06d}" for n in range(1, 51)]
        assert numbering.next_number("invoice", 2026) == "INV-2026-000051"
