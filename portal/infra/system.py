"""Operational checks: is the database reachable from where this runs (web or worker)?"""

from __future__ import annotations

import os
import socket

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import User


def check_database() -> dict:
    """Describe the database this process talks to, proving it can read from it."""
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "database": db.engine.dialect.name,
        "users": db.session.scalar(select(func.count(User.id))),
    }
