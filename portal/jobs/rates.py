"""Exchange-rate jobs: the configured official feeds fetched and imported, in their own transaction."""

from portal.jobs import job
from portal.services.masterdata import rate_import


@job
def fetch() -> dict:
    """Fetch the RATE_FEEDS files and import their rates (a feed that fails is reported, the others go in)."""
    return rate_import.fetch_feeds()
