"""Running one op: the caller's kind, the target collection, the access rules, the transaction mode.

Both dialects come through here: the DDO endpoint with the op its body named,
``/api/crud`` with the op its method stands for — so a rule about who may run
what, or how, holds for both.

A web key (SPEC §11.4) runs a collection op only where the collection's rule
for that op (``read`` for a read, ``write`` for a write) lets web keys in at
all (``pgcube.management.access``). Which *documents* it then sees or changes is decided by PostgreSQL: the
handler's statements run as the restricted role for that end user
(``Session.acting_as``), under the table's row-level security. No document
is filtered here.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from pgcube.data.service import Target
from pgcube.errors import CollectionNotFound, Forbidden
from pgcube.files.models import files_target
from pgcube.management.access import admit, rule_for
from pgcube.management.service import resolve_database
from pgcube.ops.registry import CollectionUse, Context, Op, Tx, kind_of

R = TypeVar("R")
log = logging.getLogger("pgcube.ops")


async def execute(op: Op[Any, R], ctx: Context, command: Any) -> R:
    """Run ``op``'s handler on ``command``: 403 for a principal the op does not accept; the op's
    ``prepare`` step (a model call, with no connection held) before anything else; the target
    collection resolved first when the op declares one (a read of one that does not exist answers
    its ``when_missing``); a web key's statements under the
    collection's access rules; reads retried once on a lost connection."""
    if kind_of(ctx.principal) not in op.principals:
        raise Forbidden(f"{op.name} does not accept this credential")
    if op.prepare is not None:
        command = await op.prepare(ctx, command)

    async def target(create: bool) -> Target:
        if op.vectors:
            spec = command.spec if create else None
            return await ctx.vectors.target(ctx.principal, ctx.database_id, command.collection, create=spec)
        return await ctx.documents.target(ctx.principal, ctx.database_id, command.collection, create=create)

    async def run() -> R:
        if op.collection is CollectionUse.FILES:
            database = await resolve_database(ctx.session, ctx.principal, ctx.database_id)
            ctx.target = files_target(database, ctx.principal)
        elif op.collection is not CollectionUse.NONE:
            try:
                ctx.target = await target(create=False)
            except CollectionNotFound:
                if op.when_missing is not None:
                    return op.when_missing(ctx, command)
                # A web key never creates a collection: a new one is locked (rules none/none).
                if op.collection is not CollectionUse.CREATES or ctx.principal.is_web:
                    raise
                return await create_then_run()
        if ctx.target is not None and ctx.principal.is_web:
            admit(rule_for(ctx.collection.collection.access, write=op.tx is not Tx.READ), ctx.principal)
            async with ctx.session.acting_as(ctx.principal.user_key):
                return await op.handler(ctx, command)
        return await op.handler(ctx, command)

    async def create_then_run() -> R:
        # The first write to a collection creates it in the same transaction: a write that
        # fails leaves no empty collection behind.
        async with ctx.session.transaction():
            ctx.target = await target(create=True)
            return await op.handler(ctx, command)

    if op.tx is Tx.READ:
        return await ctx.session.retry_on_loss(run)
    result = await run()
    while ctx.deferred:  # after the commit: the statements that made it due are durable
        work = ctx.deferred.pop(0)
        try:
            await work()
        except Exception:  # the answer stands (it is committed); what is left is logged
            log.warning("%s: work after the commit failed", op.name, exc_info=True)
    return result
