"""Random documents × random updates over HTTP (``collection.update``) == the update model.

Both spellings of the mutation language, on a collection declaring ``price: number``,
``n: integer`` and a required ``title: string``. The documents are loaded straight into the
table (valid for the declared fields), the update goes through the DDO route, and the stored
documents are compared with ``update_reference``: every document exactly (system fields aside),
or — for a conflict, a refusal in any matched document, a broken declared field — a 400
``VALIDATION_ERROR`` and every document as it was.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from tests.integration.data.conftest import make_db
from tests.integration.query import update_reference as model
from tests.support.accounts import Account
from tests.support.sync_pg import SyncPg

FIELDS = {"price": "number", "n": "integer", "title": "string"}
REQUIRED = frozenset({"title"})
COLLECTION = "items"

# --- documents ------------------------------------------------------------------------------
KEYS = ["b", "x", "d"]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 3),
    st.sampled_from([0.5, 1.5, -2.5]),
    st.sampled_from(["", "s", "x", "1"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=2)
    ),
    max_leaves=4,
)
HALVES = st.sampled_from([-1, 0, 1, 2, 0.5, -1.5])


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    doc: dict[str, Any] = {"title": draw(st.sampled_from(["t", "u", ""]))}
    for name in ("a", "b", "c"):
        if draw(st.integers(0, 3)):
            doc[name] = draw(VALUES)
    if draw(st.booleans()):
        doc["price"] = draw(st.one_of(st.none(), HALVES))
    if draw(st.booleans()):
        doc["n"] = draw(st.one_of(st.none(), st.integers(-2, 2)))
    return doc


# --- updates --------------------------------------------------------------------------------
PATHS = st.sampled_from(
    [
        "a",
        "a",
        "b",
        "b",
        "c",
        "a.b",
        "a.x",
        "a.0",
        "a.1",
        "b.0",
        "b.3",
        "b.0.x",
        "c.d.e",
        "price",
        "n",
        "title",
        "price.x",
    ]
)
PULL_CONDITIONS = st.one_of(
    st.builds(lambda v: {"$gte": v}, st.integers(-1, 2)),
    st.builds(lambda v: {"$lt": v}, st.integers(-1, 2)),
    st.builds(
        lambda vs: {"$in": vs}, st.lists(SCALARS.filter(lambda v: v is not None), min_size=1, max_size=2)
    ),
    st.builds(lambda k, v: {k: v}, st.sampled_from(KEYS), st.integers(-1, 2)),
)


def ddo_operators() -> st.SearchStrategy[tuple[str, Any]]:
    """(``"path:$op"`` or a bare path, value)."""

    def op(name: str, values: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[str, Any]]:
        return st.tuples(PATHS.map(lambda p: f"{p}:{name}" if name else p), values)

    flag = st.just(True)
    return st.one_of(
        op("", VALUES),
        op("$set", VALUES),
        op("$unset", flag),
        op("$incr", st.one_of(HALVES, flag)),
        op("$inc", HALVES),
        op("$decr", st.one_of(HALVES, flag)),
        op("$push", VALUES),
        op("$lpush", VALUES),
        op("$extend", st.lists(VALUES, max_size=3)),
        op("$lextend", st.lists(VALUES, max_size=3)),
        op("$addset", st.one_of(SCALARS, st.lists(SCALARS, max_size=3))),
        op("$pop", flag),
        op("$lpop", flag),
        op("$remove", VALUES),
        op("$clear", flag),
        op("$rename", PATHS),
        op("$copy", PATHS),
        op("$now", flag),
        op("$uuid", flag),
        op("$uuid4", flag),
    )


DDO_UPDATES = st.lists(ddo_operators(), min_size=1, max_size=4).map(dict)

MONGO_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "$set": VALUES,
    "$inc": HALVES,
    "$unset": st.just(""),
    "$push": st.one_of(VALUES, st.builds(lambda v: {"$each": v}, st.lists(VALUES, max_size=3))),
    "$addToSet": st.one_of(SCALARS, st.builds(lambda v: {"$each": v}, st.lists(SCALARS, max_size=3))),
    "$pull": st.one_of(SCALARS, PULL_CONDITIONS),
    "$rename": PATHS,
    "$pop": st.sampled_from([1, -1]),
}
MONGO_UPDATES = st.dictionaries(
    st.sampled_from(list(MONGO_VALUES)),
    st.just(None),
    min_size=1,
    max_size=3,
).flatmap(
    lambda names: st.fixed_dictionaries(
        {name: st.dictionaries(PATHS, MONGO_VALUES[name], min_size=1, max_size=2) for name in names}
    )
)


@st.composite
def matches(draw: st.DrawFn, keys: list[str]) -> tuple[dict[str, Any], list[str]]:
    """(criteria, the keys they match): every document, or some in either syntax."""
    if draw(st.booleans()):
        return {}, keys
    chosen = draw(st.lists(st.sampled_from(keys), unique=True, min_size=1, max_size=len(keys)))
    return draw(st.sampled_from([{"_key:$in": chosen}, {"_key": {"$in": chosen}}])), chosen


# --- the test -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def target(module_client: httpx.Client, module_account: Account, pg: SyncPg) -> tuple[Any, str]:
    fields = [{"name": n, "type": t, "required": n in REQUIRED} for n, t in FIELDS.items()]
    db = make_db(module_client, module_account, [{"name": COLLECTION, "fields": fields}])
    schema = pg.fetchval("SELECT schema_name FROM pgcube.databases WHERE id = $1", db.id)
    return db, f'"{schema}"."{COLLECTION}"'


def stored(pg: SyncPg, table: str) -> dict[str, Any]:
    return {r["_key"]: SyncPg.json(r["data"]) for r in pg.fetch(f"SELECT _key, data FROM {table}")}


def without_system_fields(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in ("_key", "_userkey", "_created_at", "_modified_at")}


@settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), docs=st.lists(documents(), min_size=2, max_size=6))
def test_updates_agree_with_the_model(
    pg: SyncPg, target: tuple[Any, str], data: st.DataObject, docs: list[dict[str, Any]]
) -> None:
    db, table = target
    keys = [f"d{i}" for i in range(len(docs))]
    pg.execute(f"TRUNCATE {table}")
    pg.execute(
        f"INSERT INTO {table} (_key, data) SELECT r->>'k', r->'d' FROM jsonb_array_elements($1::jsonb) AS r",
        json.dumps([{"k": k, "d": d} for k, d in zip(keys, docs, strict=True)]).encode(),
    )
    note(f"docs={docs!r}")
    state = stored(pg, table)
    for _ in range(data.draw(st.integers(1, 4), label="requests")):  # one after the other
        state = one_update(db, pg, table, data, state)


def one_update(
    db: Any, pg: SyncPg, table: str, data: st.DataObject, before: dict[str, Any]
) -> dict[str, Any]:
    """Send one random update; check the answer and the stored documents; the new state."""
    keys = sorted(before)
    update = data.draw(st.one_of(DDO_UPDATES, MONGO_UPDATES), label="update")
    match, chosen = data.draw(matches(keys), label="match")
    body = {"op": "collection.update", "collection": COLLECTION, "match": match, "data": update}
    try:
        operations = model.parse(update)
    except model.Conflict as error:
        conflict: str | None = error.pointer
    else:
        conflict = None
    if conflict is not None:
        answer = db.error(body, 400, "VALIDATION_ERROR")
        assert answer["details"]["pointer"] == conflict, answer
        assert stored(pg, table) == before, "a refused update changed a document"
        return before
    try:
        expected = dict(before)
        for key in chosen:
            expected[key] = model.apply(before[key], operations)
            model.check_declared(expected[key], FIELDS, REQUIRED)
    except model.Refused as refusal:
        note(f"refused: {refusal}")
        db.error(body, 400, "VALIDATION_ERROR")
        assert stored(pg, table) == before, "a refused update changed a document"
        return before
    answer = db.ok(body)
    returned = {doc["_key"]: without_system_fields(doc) for doc in answer["data"]}
    assert sorted(returned) == sorted(chosen)
    after = stored(pg, table)
    assert sorted(after) == keys
    for key in keys:
        assert model.same(after[key], expected[key]), f"{key}: stored {after[key]!r}, model {expected[key]!r}"
    for key in chosen:
        assert model.same(returned[key], expected[key]), (
            f"{key}: answered {returned[key]!r}, model {expected[key]!r}"
        )
    return after
