"""The one way services read configuration: the running app's settings (checked at start by portal.config)."""

from __future__ import annotations

from collections.abc import Mapping

from flask import current_app


def config() -> Mapping:
    """The settings of the app this code runs in (web request, job or CLI command)."""
    return current_app.config
