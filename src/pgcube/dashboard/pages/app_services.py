"""The pages of what an app uses from one database: its end users, files, vector search and the
access rules of its collections."""

from __future__ import annotations

from pgcube.dashboard.pages import access, end_users, files, vectors

PAGES = [*end_users.PAGES, *files.PAGES, *vectors.PAGES, *access.PAGES]
