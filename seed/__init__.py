"""Reference and demo data, and their idempotent loader (`registry migrate`, `registry seed`)."""
