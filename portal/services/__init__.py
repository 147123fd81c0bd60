"""Use cases. Services flush, never commit; the edge that called them commits."""
