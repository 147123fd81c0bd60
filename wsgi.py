"""The one module-level app: `gunicorn wsgi:app`, and what `flask` finds in this folder."""

from portal import create_app

app = create_app()
