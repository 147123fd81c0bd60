"""Grids for finance reference data: exchange rates."""

from __future__ import annotations

from admin.base import SecuredModelView
from admin.masterdata import choices
from portal.models import ExchangeRate
from portal.models.rates import RATE_SOURCES


class ExchangeRateView(SecuredModelView):
    read_permission = "rates.read"
    write_permission = "rates.write"
    column_list = ("currency", "rate_date", "rate", "source", "created_at")
    column_searchable_list = ("currency",)
    column_filters = ("currency", "rate_date", "source")
    column_default_sort = ("rate_date", True)
    column_labels = {"rate": "Rate (base currency per unit)"}
    form_excluded_columns = ("created_at",)
    form_choices = {"source": choices(RATE_SOURCES)}


def register(admin) -> None:
    admin.add_view(ExchangeRateView(ExchangeRate, name="Exchange rates", endpoint="exchange_rates", category="Finance"))
