"""The upload hook (function and HTTP endpoint) and the backfill command."""
