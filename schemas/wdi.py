"""Format `wdi`: dwi/readers/wdi.py turns the file into tidy observations, so the rules are those of
schemas/observations.py (this module lets code that looks up `schemas.<format>` find them)."""

from schemas.observations import KEY, OPTIONAL, REQUIRED, schema

__all__ = ["KEY", "OPTIONAL", "REQUIRED", "schema"]
