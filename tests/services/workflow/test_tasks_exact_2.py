"""tasks.py's form fields, exactly: types, limits and refusals of a generated form; found by the mutation run.

Each test pins one outcome (docs/testing.md, "Mutation run"): the decimals a money and a decimal field keep, the
words a boolean field takes for yes, a value that is already a date, offered and missing enum options, each limit
at its boundary, a broken limit, and the exact field and message of every refusal. No database is needed.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from portal.errors import ValidationError
from portal.services.workflow import tasks

pytestmark = pytest.mark.no_db


def _errors(fields: list[dict], values: dict) -> dict:
    with pytest.raises(ValidationError) as info:
        tasks.parse_form(fields, values)
    return info.value.errors


# ---------------------------------------------------------------------------- the field a refusal names

# parse_form files every error under the id of the field it read, so the field a single field's refusal names is
# seen only here, one field at a time (the helper that turns one raw value into (present, typed value)).
REFUSALS = [
    ({"type": "string", "validation": {"required": None}}, " ", "is required"),  # _field_value 20
    ({"type": "money"}, "abc", "“abc” is not a number (write digits, e.g. 1234.50)"),  # _typed 10
    ({"type": "long"}, "x", "“x” is not a whole number"),  # _typed 48
    ({"type": "enum", "options": [{"id": "a"}]}, "b", "choose one of the offered values"),  # _typed 71, 72, 77, 78
    ({"type": "string", "validation": {"minlength": "3"}}, "ab", "needs at least 3 characters"),  # _check_limits 14-21
    ({"type": "string", "validation": {"maxlength": "3"}}, "abcd", "allows at most 3 characters"),  # _check_limits 35
    ({"type": "long", "validation": {"min": "5"}}, "4", "must be at least 5"),  # _check_limits 58
    ({"type": "long", "validation": {"max": "5"}}, "6", "must be at most 5"),  # _check_limits 79
    ({"type": "long", "validation": {"min": "one"}}, "5",
     "the diagram's min rule 'one' is not a number; an analyst must fix the process"),  # _limit 4
]


@pytest.mark.parametrize(("field", "raw", "message"), REFUSALS, ids=[
    "required", "money", "long", "enum", "minlength", "maxlength", "min", "max", "broken-limit"])
def test_each_refusal_of_a_field_names_that_field_with_the_exact_message(field, raw, message):
    with pytest.raises(ValidationError) as info:
        tasks._field_value({"id": "pages", **field}, raw)
    assert (info.value.field, info.value.message) == ("pages", message)


# ---------------------------------------------------------------------------- numbers

def test_a_money_field_refuses_a_third_decimal():
    # kills _typed 11, 14, 17, 19, 20, 21
    assert _errors([{"id": "fee", "type": "money"}], {"fee": "12.345"}) == {"fee": "allows at most 2 decimal places"}


def test_a_decimal_field_keeps_every_decimal_given():
    # kills _typed 18, 19
    assert str(tasks.parse_form([{"id": "rate", "type": "decimal"}], {"rate": "1.2345"})["rate"]) == "1.2345"


def test_a_length_of_exactly_the_minimum_or_the_maximum_is_allowed():
    # kills _check_limits 5, 26
    fields = [{"id": "code", "type": "string", "validation": {"minlength": "3", "maxlength": "5"}},
              {"id": "short", "type": "string", "validation": {"minlength": "2", "maxlength": "2"}}]
    assert tasks.parse_form(fields, {"code": "abc", "short": "ab"}) == {"code": "abc", "short": "ab"}
    assert tasks.parse_form(fields[:1], {"code": "abcde"}) == {"code": "abcde"}


def test_a_number_of_exactly_the_maximum_is_allowed():
    # kills _check_limits 70
    assert tasks.parse_form([{"id": "pages", "type": "long", "validation": {"max": "50"}}], {"pages": "50"}) == {
        "pages": 50}


def test_a_broken_maximum_length_in_an_old_diagram_is_a_clear_error_naming_the_field():
    # kills _check_limits 27
    assert _errors([{"id": "note", "type": "string", "validation": {"maxlength": "abc"}}], {"note": "x"}) == {
        "note": "the diagram's maxlength rule 'abc' is not a number; an analyst must fix the process"}


def test_a_date_field_is_not_held_to_a_numeric_limit():
    # kills _check_limits 43 (only whole numbers and decimals are compared with min and max)
    fields = [{"id": "due", "type": "date", "validation": {"min": "1"}}]
    assert tasks.parse_form(fields, {"due": "2026-11-02"}) == {"due": date(2026, 11, 2)}


# ---------------------------------------------------------------------------- booleans, dates, choices

@pytest.mark.parametrize("raw", ["1", "true", "TRUE", "on", "yes", "YES", "y", "Y"])
def test_the_words_for_yes_tick_a_boolean_field(raw):
    # kills _typed 32, 33, 34, 37, 38, 39, 40
    assert tasks.parse_form([{"id": "urgent", "type": "boolean"}], {"urgent": raw}) == {"urgent": True}


@pytest.mark.parametrize("raw", ["0", "false", "off", "no", "n", "", None])
def test_other_words_and_no_value_leave_a_boolean_field_unticked(raw):
    assert tasks.parse_form([{"id": "urgent", "type": "boolean"}], {"urgent": raw}) == {"urgent": False}


def test_a_value_that_is_already_a_date_is_kept_as_given():
    # kills _typed 44: a datetime is a date too, and is not read again from its text (which is no ISO date)
    given = datetime(2026, 11, 2, 9, 30)
    assert tasks.parse_form([{"id": "due", "type": "date"}], {"due": given})["due"] is given


def test_an_offered_choice_is_accepted():
    # kills _typed 65, 69, 70
    fields = [{"id": "currency", "type": "enum", "options": [{"id": "EUR", "name": "Euro"}, {"id": "USD"}]}]
    assert tasks.parse_form(fields, {"currency": "USD"}) == {"currency": "USD"}


def test_a_choice_field_without_options_refuses_every_value():
    # kills _typed 66, 68
    assert _errors([{"id": "kind", "type": "enum"}], {"kind": "a"}) == {"kind": "choose one of the offered values"}


# ---------------------------------------------------------------------------- whole numbers from every edge

LONG = [{"id": "visits", "label": "Visits", "type": "long"}]


@pytest.mark.parametrize("given", [Decimal("2.5"), "2.5", "1_000", "1e3", True])
def test_a_whole_number_field_refuses_what_is_not_one_and_never_cuts_it(given):
    # the CLI hands Decimal("2.5") over, which int() cut to 2; Python's int() also reads "1_000"
    assert _errors(LONG, {"visits": given}) == {"visits": f"“{given}” is not a whole number"}


@pytest.mark.parametrize(("given", "value"), [("12", 12), ("-3", -3), (Decimal("12"), 12), (12, 12)])
def test_a_whole_number_field_takes_whole_numbers_as_typed_or_as_given(given, value):
    assert tasks.parse_form(LONG, {"visits": given}) == {"visits": value}
