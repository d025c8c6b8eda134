"""Running one op: the caller's kind, the target collection, the transaction mode.

Both dialects come through here: the DDO endpoint with the op its body named,
``/api/crud`` with the op its method stands for — so a rule about who may run
what, or how, holds for both.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pgcube.errors import CollectionNotFound, Forbidden
from pgcube.ops.registry import CollectionUse, Context, Op, Tx, kind_of

R = TypeVar("R")


async def execute(op: Op[Any, R], ctx: Context, command: Any) -> R:
    """Run ``op``'s handler on ``command``: 403 for a principal the op does not accept; the target
    collection resolved first when the op declares one; reads retried once on a lost connection."""
    if kind_of(ctx.principal) not in op.principals:
        raise Forbidden(f"{op.name} does not accept this credential")

    async def run() -> R:
        if op.collection is not CollectionUse.NONE:
            try:
                ctx.target = await ctx.documents.target(ctx.principal, ctx.database_id, command.collection)
            except CollectionNotFound:
                if op.collection is not CollectionUse.CREATES:
                    raise
                return await create_then_run()
        return await op.handler(ctx, command)

    async def create_then_run() -> R:
        # The first write to a collection creates it in the same transaction: a write that
        # fails leaves no empty collection behind.
        async with ctx.session.transaction():
            ctx.target = await ctx.documents.target(
                ctx.principal, ctx.database_id, command.collection, create=True
            )
            return await op.handler(ctx, command)

    if op.tx is Tx.READ:
        return await ctx.session.retry_on_loss(run)
    return await run()
