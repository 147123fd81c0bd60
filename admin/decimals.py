"""Exact decimals in the admin: grid filters and form fields read through the one money parser, never float."""

from __future__ import annotations

from decimal import Decimal

from flask_admin.contrib.sqla.filters import (
    FilterConverter,
    FilterEmpty,
    FilterEqual,
    FilterGreater,
    FilterInList,
    FilterNotEqual,
    FilterNotInList,
    FilterSmaller,
)
from flask_admin.contrib.sqla.form import AdminModelConverter
from flask_admin.model.filters import convert
from flask_admin.model.form import converts
from wtforms.fields import DecimalField
from wtforms.validators import Length

from portal.errors import ValidationError
from portal.money import parse


def _exact(value: str) -> Decimal:
    """A filter value as an exact Decimal; ValueError (shown as an invalid filter, not a 500) otherwise."""
    try:
        return parse(value, "filter")
    except ValidationError as exc:
        raise ValueError(exc.message) from exc


class DecimalFilter:
    """Mixin: parse the filter value with the money parser (never float); garbage fails `validate`."""

    def clean(self, value: str) -> Decimal:
        return _exact(value)


class DecimalListFilter:
    """Mixin: a comma-separated list of exact amounts."""

    def clean(self, value: str) -> list[Decimal]:
        return [_exact(part) for part in value.split(",") if part.strip()]


class DecimalEqualFilter(DecimalFilter, FilterEqual):
    pass


class DecimalNotEqualFilter(DecimalFilter, FilterNotEqual):
    pass


class DecimalGreaterFilter(DecimalFilter, FilterGreater):
    pass


class DecimalSmallerFilter(DecimalFilter, FilterSmaller):
    pass


class DecimalInListFilter(DecimalListFilter, FilterInList):
    pass


class DecimalNotInListFilter(DecimalListFilter, FilterNotInList):
    pass


class ExactDecimalFilters(FilterConverter):
    """Numeric filters (equals, greater than, ...) for the project's exact money and rate columns."""

    decimal_filters = (DecimalEqualFilter, DecimalNotEqualFilter, DecimalGreaterFilter, DecimalSmallerFilter,
                       FilterEmpty, DecimalInListFilter, DecimalNotInListFilter)

    @convert("exactdecimal", "numeric", "decimal")
    def conv_exact_decimal(self, column, name, **kwargs):
        return [f(column, name, **kwargs) for f in self.decimal_filters]


class PlainDecimalField(DecimalField):
    """A number typed by people, read by the money parser: plain digits, at most the column's decimals, never
    rounded to fit (WTForms' DecimalField takes "1e9" and lets the column round 0.001 to 0.00)."""

    def __init__(self, *args, scale: int | None = None, **kwargs):
        kwargs.pop("places", None)
        super().__init__(*args, places=None, **kwargs)
        self.scale = scale

    def process_formdata(self, valuelist):
        if not valuelist or not str(valuelist[0]).strip():
            self.data = None  # blank: the field's required or optional validator decides
            return
        try:
            self.data = parse(valuelist[0], self.name, places=self.scale)
        except ValidationError as exc:
            self.data = None
            raise ValueError(exc.message) from exc

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        # Plain notation: str() of a stored 0.00000012 is "1.2E-7", which the parser would refuse when saved again.
        return "" if self.data is None else format(self.data, "f")


class ExactDecimalForms(AdminModelConverter):
    """Decimal form fields for the exact money and rate columns; text limits worded like the domain rules'."""

    @classmethod
    def _string_common(cls, column, field_args, **extra) -> None:
        super()._string_common(column=column, field_args=field_args, **extra)
        field_args["validators"] = [
            Length(max=rule.max, message=f"allows at most {rule.max} characters")
            if isinstance(rule, Length) and rule.max and rule.max > 0 and rule.min < 0 else rule
            for rule in field_args["validators"]]

    @converts("ExactDecimal")
    def conv_exact_decimal(self, column, field_args, **extra):
        return PlainDecimalField(scale=column.type.scale, **field_args)
