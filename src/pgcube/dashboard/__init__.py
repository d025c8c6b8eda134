"""The web dashboard at ``/`` (docs/dashboard.md, ADR 0027): server-rendered pages for the people
who own the databases, speaking to pgcube's own public API in-process."""
