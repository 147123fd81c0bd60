"""Navigation: one list of sections, each item shown only to roles that may open it."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, url_for
from flask_login import current_user

from portal.security import can


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str


@dataclass(frozen=True)
class NavSection:
    label: str
    items: tuple[NavItem, ...]


# Site pages outside the admin; admin grids come from the admin's own (permission-aware) menu.
SITE_PAGES = (
    ("Dashboard", "main.dashboard", "dashboard.view"),
    ("Proformas", "proformas.index", "proformas.view"),
    ("Receivables", "receivables.documents", "receivables.read"),
    ("Tasks", "tasks.inbox", "tasks.view"),
    ("My company", "customer_portal.home", "portal.view"),
)


def navigation() -> list[NavSection | NavItem]:
    """What the signed-in user may open: top-level pages, then admin grids by category."""
    if not current_user.is_authenticated:
        return []
    entries: list[NavSection | NavItem] = [
        NavItem(label, url_for(endpoint)) for label, endpoint, perm in SITE_PAGES if can(current_user, perm)
    ]
    return entries + _admin_sections()


def _admin_sections() -> list[NavSection]:
    sections = []
    for admin in current_app.extensions.get("admin", []):
        for entry in admin.menu():
            children = entry.get_children() if entry.is_category() else [entry]
            items = tuple(NavItem(c.name, c.get_url()) for c in children if c.is_accessible() and c.is_visible())
            if items:
                sections.append(NavSection(entry.name, items))
    return sections
