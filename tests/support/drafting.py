"""Drafting fixtures: customers on a fake call-logging system, rate cards and contracts with a fixed line."""

from __future__ import annotations

from decimal import Decimal

from portal.extensions import db
from portal.models import RateCardItem
from tests.support import factories

PRICES = {("incident", "P1"): "450.00", ("incident", "P2"): "220.00", ("incident", "P3"): "95.00",
          ("incident", "P4"): "40.00", ("request", "New laptop setup"): "120.00",
          ("request", "Access request"): "25.00"}


def customer_on(fake_url: str, name: str = "Acme Logistics GmbH", **overrides):
    """A customer whose call-logging system is the fake at fake_url, as company `name`."""
    return factories.CustomerFactory(calllog_url=fake_url, calllog_company=name, calllog_auth="basic",
                                     calllog_username="ledgerflow", calllog_secret="demo-servicenow-pass",
                                     **overrides)


def rate_card(prices=PRICES):
    card = factories.RateCardFactory()
    for (kind, key), price in prices.items():
        db.session.add(RateCardItem(rate_card=card, kind=kind, key=key, unit_price=Decimal(price)))
    db.session.flush()
    return card


def contract_for(customer, **overrides):
    """A contract priced by PRICES with one fixed line of 4,500.00 at 19 %."""
    contract = factories.ContractFactory(customer=customer, rate_card=rate_card(), **overrides)
    factories.FixedLineFactory(contract=contract, description="Service desk flat fee", quantity=Decimal("1"),
                               unit_price=Decimal("4500.00"), tax_rate=Decimal("19"))
    return contract
