"""``collection.explain`` (alias ``db.explain``; SPEC §10a, ADR 0026): the plan of a find, count,
update or delete, with index advice.

A part of the ``collection.*`` family in a module of its own: its body is the body of the
explained command (``collection.py``'s) plus ``command`` and ``analyze``, and it reads exactly
the keys that command reads — a key the command would refuse is refused here too, so what is
explained is what the command would run. ``GET /api/explain`` builds the same command from the
``/api/crud`` query parameters and runs this op.

Only the account's own credentials may explain: a plan shows the SQL and the row estimates of
the whole table, which are not for browsers (a web key gets 403).
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from pgcube.data import commands
from pgcube.data.explain import Explanation, explain
from pgcube.errors import ValidationError
from pgcube.ops.collection import (
    CountBody,
    FindBody,
    FindKeys,
    RemoveBody,
    UpdateBody,
    _Collection,
    db_variant,
)
from pgcube.ops.registry import Answer, CollectionUse, Context, Op, Tx

Verb = Literal["find", "count", "update", "delete"]

EXPLAINED: dict[str, tuple[type[_Collection], type[_Collection]]] = {
    verb: (body, db_variant(body))
    for verb, body in (
        ("find", FindBody),
        ("count", CountBody),
        ("update", UpdateBody),
        ("delete", RemoveBody),
    )
}
"""The body each explained command reads: under ``collection.explain``, and under ``db.explain``."""
OWN_KEYS = frozenset({"op", "action", "verb", "analyze"})


class ExplainBody(FindKeys):
    # A find's keys are the most any explained command reads; ``data`` is an update's mutation.
    verb: Verb = msgspec.field(default="find", name="command")
    analyze: bool = False
    """Run the statement too (``EXPLAIN ANALYZE``): a find or a count only."""
    data: dict[str, Any] | None = None

    def command(self) -> commands.Explain:
        body_type = EXPLAINED[self.verb][1 if self.db_family else 0]
        reads = frozenset(body_type.__struct_fields__)
        for name in self.__struct_fields__:
            if name not in OWN_KEYS and name not in reads and getattr(self, name) is not None:
                raise ValidationError(
                    f"An explained {self.verb} does not take {name}: send the keys of the command",
                    details={"field": name, "pointer": f"/{name}", "command": self.verb},
                )
        body = body_type(**{name: getattr(self, name) for name in reads if name in self.__struct_fields__})
        explained = body.command()
        return commands.Explain(collection=explained.collection, command=explained, analyze=self.analyze)


async def run(ctx: Context, command: commands.Explain) -> Explanation:
    return await explain(ctx.documents, ctx.collection, command)


EXPLAIN: Op[commands.Explain, Explanation] = Op(
    name="collection.explain",
    summary=(
        "Explain a find, count, update or delete (command): its SQL and parameters, PostgreSQL's plan, "
        "the indexes it uses, its rows, and index advice; analyze runs a read. A write is never run"
    ),
    body=ExplainBody,
    handler=run,
    present=lambda explanation: Answer(explanation),
    tx=Tx.READ,  # EXPLAIN plans; EXPLAIN ANALYZE runs a read only
    collection=CollectionUse.NEEDS,  # it explains a statement on the collection's table
    aliases={"db.explain": db_variant(ExplainBody)},
    example={
        "op": "collection.explain",
        "collection": "products",
        "match": {"category": "lamps", "price:$lt": 50},
        "sort": "price asc",
        "analyze": True,
    },
)

OPS: tuple[Op[Any, Any], ...] = (EXPLAIN,)
