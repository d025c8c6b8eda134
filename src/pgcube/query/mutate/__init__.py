"""The mutation language (SPEC §9.4) → one ``UPDATE ... RETURNING`` per request.

Both spellings parse (``parse``: one parser per operator) into a list of steps applied
in order (``steps``: one class per kind, each with its shape, parameters and SQL):

* DDO: ``{"name": "x", "count:$incr": 1, "tags:$push": "a"}``;
* MongoDB: ``{"$set": {...}, "$inc": {...}, "$unset": {...}, "$push": {...},
  "$addToSet": {...}, "$pull": {...}}`` (plus ``$pop``, ``$rename`` and the DDO names).

Each step rewrites the document once, inside its own scalar sub-select
(``(SELECT f(m.x) FROM (SELECT <previous> AS x) AS m)``), so a step may use
the current document several times without the SQL growing exponentially.
A step on a value of the wrong type ($incr on a string, $push on an object)
raises SQLSTATE 22023 in PostgreSQL and the whole statement rolls back. So does
writing below a value that cannot hold the next path component (MongoDB's
"Cannot create field"): a scalar, or an array under a field name. A missing or
null parent becomes ``{}``; an array stays under an index component and is
padded with nulls up to it, as in MongoDB (at most ``MAX_ARRAY_PADDING`` nulls).

Two operations of one update may not touch overlapping paths (one a prefix of,
or equal to, the other: MongoDB's "would create a conflict"), so the result never
depends on the order of the keys.
"""

from pgcube.query.mutate.parse import OPERATORS, parse_mutation
from pgcube.query.mutate.steps import MAX_ARRAY_PADDING, Step
from pgcube.query.mutate.update import UPDATE_REFUSED, UpdateQuery, compile_update

__all__ = [
    "MAX_ARRAY_PADDING",
    "OPERATORS",
    "UPDATE_REFUSED",
    "Step",
    "UpdateQuery",
    "compile_update",
    "parse_mutation",
]
