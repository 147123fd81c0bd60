"""Rate cards (prices per incident priority and service-request item) and exchange rates."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.types import Money, Rate, Timestamp, utcnow

RATE_ITEM_KINDS = ("incident", "request")
INCIDENT_PRIORITIES = ("P1", "P2", "P3", "P4", "P5")
RATE_SOURCES = ("manual", "ecb", "cbr")


class RateCard(db.Model):
    __tablename__ = "rate_cards"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    currency: Mapped[str] = mapped_column(String(3))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)

    items = relationship("RateCardItem", back_populates="rate_card", cascade="all, delete-orphan")

    def __str__(self) -> str:
        return self.name

    def price_for(self, kind: str, key: str) -> Decimal | None:
        """Unit price for an incident priority or a catalog item, or None if the card has none."""
        return next((i.unit_price for i in self.items if i.kind == kind and i.key == key), None)


class RateCardItem(db.Model):
    """One price: kind 'incident' keyed by priority (P1..P5), or 'request' keyed by catalog item."""

    __tablename__ = "rate_card_items"
    __audited__ = True
    __table_args__ = (UniqueConstraint("rate_card_id", "kind", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rate_card_id: Mapped[int] = mapped_column(ForeignKey("rate_cards.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(String(200), default="")
    unit_price: Mapped[Decimal] = mapped_column(Money())

    rate_card = relationship(RateCard, back_populates="items")

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"


class ExchangeRate(db.Model):
    """How many units of the base currency one unit of `currency` buys on `rate_date`."""

    __tablename__ = "exchange_rates"
    __audited__ = True
    __table_args__ = (UniqueConstraint("currency", "rate_date", "source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), index=True)
    rate_date: Mapped[date] = mapped_column(Date, index=True)
    rate: Mapped[Decimal] = mapped_column(Rate())
    source: Mapped[str] = mapped_column(String(20), default="manual")
    created_at = mapped_column(Timestamp(), default=utcnow)

    def __str__(self) -> str:
        return f"{self.currency} {self.rate_date} {self.rate}"
