"""pgcube: a self-hosted JSON document service on plain PostgreSQL."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pgcube")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
