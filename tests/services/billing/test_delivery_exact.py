"""The mail server settings of delivery, exactly; found by the mutation run (docs/testing.md, "Mutation run"):
the field and message when no server is configured, and the seller as the sender."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest

from portal.errors import ValidationError
from portal.services.billing import delivery


@pytest.mark.parametrize("url", [None, ""])
def test_without_smtp_url_the_settings_are_refused_naming_the_setting(app, monkeypatch, url):
    monkeypatch.setitem(app.config, "SMTP_URL", url)
    with pytest.raises(ValidationError) as raised:
        delivery.smtp_settings()
    assert (raised.value.field, raised.value.message) == (
        "SMTP_URL", "no mail server is configured (e.g. smtp://user:pass@host:587?starttls=1)")


def test_mail_is_sent_as_the_seller_over_the_configured_server(app, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_URL", "smtp://mailer:secret@mail.example:587?starttls=1")
    settings = delivery.smtp_settings()
    assert settings.sender == "Ledgerflow Demo Services GmbH <billing@ledgerflow.example>"
    assert (settings.host, settings.port, settings.username, settings.password, settings.starttls) == (
        "mail.example", 587, "mailer", "secret", True)


def test_the_mail_states_the_amount_with_thousands_separators_and_the_currencys_decimals(app):
    proforma = SimpleNamespace(number="PF-J-1-2026-11", period="2026-11", gross_total=Decimal("146913"),
                               currency="JPY", due_date=date(2026, 12, 31))
    assert "2026-11, 146,913 JPY, due 2026-12-31." in delivery.mail_text(proforma, ["Aiko"])
    proforma.gross_total = Decimal("146913.00")  # as read back from the database: the same text
    assert "2026-11, 146,913 JPY, due 2026-12-31." in delivery.mail_text(proforma, ["Aiko"])
