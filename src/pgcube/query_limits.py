"""The default limits of the query language (SPEC §9.2), written once.

``query.ir.Limits`` (the compiler's own defaults) and ``settings`` (the ``PGCUBE_QUERY_*``
and ``PGCUBE_MAX_PAGE_SIZE`` defaults) both read them from here. A leaf that imports
nothing: the compiler stays free of the application's settings, and ``settings`` (which
``db/`` imports) does not pull in the compiler.
"""

MAX_DEPTH = 16
MAX_CONDITIONS = 64
MAX_LIST_VALUES = 1000
MAX_REGEX_LENGTH = 256
MAX_PAGE_SIZE = 1000
