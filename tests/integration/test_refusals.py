"""Refused and nothing changed, for every route (issue 20; RELIABILITY F7, D2, E2, E5, F5, H8).

The owner of a database sends every ``/api`` route and every DDO op name
invalid input and gets a 4xx in the envelope of its dialect, and the whole
database is as it was: the catalog, every table of the account's schemas
(``_trash`` included), its API keys, its accounts row and the idempotency rows.

The valid requests are the tenancy walk's (``tests/integration/test_tenancy.py``,
built from the app's own routes and the op registry) plus the two account-wide
routes; the bad variants are derived from each valid request — a key it does
not take, each key with a value of the wrong type, each required key left out,
unknown and malformed ids, JSON that does not parse, a body that is not an
object — and completed by a table of refusals each route or op promises
(empty criteria without ``all``, unknown operators, bad names, batches over
the limit, half-valid batches that must roll back). A new route or op gets
the derived variants the day it joins the tenancy walk, and
``test_every_route_and_op_has_bad_variants`` fails until it does.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from pgcube.ops import REGISTRY
from pgcube.ops.registry import PrincipalKind
from tests.integration.end_users.conftest import end_user_headers, password_hash
from tests.integration.test_tenancy import (
    ACCOUNT_WIDE,
    WALKER,
    Request,
    add_end_user,
    add_file,
    add_vectors,
    api_routes,
    ddo_op,
    requests_for,
)
from tests.integration.vectors.support import pgvector_installed
from tests.support.accounts import Account, create_api_key
from tests.support.end_users import add_end_user as add_end_user_row
from tests.support.sync_pg import SyncPg

DDO_ROUTE = ("POST", "/api/{database_id:str}")
UPLOAD_ROUTE = ("POST", "/api/{database_id:str}/files")
"""The direct upload: a form, answered in the DDO envelope."""
UNKNOWN_ID = "0" * 24
MALFORMED_IDS = ("not-an-id", "'; DROP SCHEMA public CASCADE--", "A" * 24)
CRITERIA_KEYS = frozenset({"match", "filter", "filters", "matches"})


@dataclass(frozen=True)
class Variant:
    label: str
    method: str
    path: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.label}: {self.method} {self.path} {self.kwargs}"


# --- the valid requests ------------------------------------------------------------------------


def account_wide_requests() -> dict[tuple[str, str], list[Request]]:
    """Valid requests on the routes the tenancy walk leaves out (nothing of another account's)."""
    collection = {"name": "fresh", "fields": [{"name": "n", "type": "integer"}]}
    return {
        ("POST", "/api/create_database"): [
            (
                "POST",
                "/api/create_database",
                {"json": {"db_name": "refused_" + secrets.token_hex(4), "collections": [collection]}},
            )
        ],
        ("GET", "/api/list_databases"): [
            ("GET", "/api/list_databases", {"params": {"page": 1, "page_size": 10}})
        ],
    }


def valid_requests(db_id: str, name: str) -> dict[tuple[str, str], list[Request]]:
    """Every (method, route template) with its valid requests, DDO ops included."""
    return {**requests_for(db_id, name), **account_wide_requests()}


OPTIONAL_OP_KEYS = {
    "auth.signout": frozenset({"scope"}),
    "file.presign_upload": frozenset({"content_type", "filesize"}),  # guessed from the name; announced
    "xai.generate": frozenset({"options"}),  # as long as the server allows
    "xai.summarize": frozenset({"options"}),
    "collection.explain": frozenset({"command"}),  # a find then
}
"""Keys a DDO op's valid request may leave out, by op."""


def optional_keys(route: tuple[str, str], op: str | None = None) -> frozenset[str]:
    """Keys a valid request of ``route`` may leave out (a missing criteria key means "every
    document" for DDO: it is never dropped, whatever this says)."""
    if op is not None:
        return optional_keys(route) | OPTIONAL_OP_KEYS.get(REGISTRY.resolve(op)[0].name, frozenset())
    return {
        DDO_ROUTE: frozenset({"match", "update", "insert"}),
        ("GET", "/api/crud"): frozenset({"filters"}),
        ("GET", "/api/explain"): frozenset({"filters", "command"}),  # every document; a find
        ("POST", "/api/create_database"): frozenset({"collections"}),
        ("GET", "/api/list_databases"): frozenset({"page", "page_size"}),
        ("POST", "/api/import_data"): frozenset({"collection_name"}),  # the file's name then
        UPLOAD_ROUTE: frozenset({"public_read"}),  # private then
        ("PUT", "/api/auth_settings"): frozenset(
            {"allow_email_signup", "require_verified_email", "verify_email_on_signup"}
        ),
    }.get(route, frozenset())


# --- derived variants --------------------------------------------------------------------------


def wrong_type(value: Any) -> Any:
    """A value of another JSON type."""
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, str):
        return 12345
    if isinstance(value, int | float):
        return "twelve"
    if isinstance(value, dict):
        return ["not", "an", "object"]
    if isinstance(value, list):
        return "not a list"
    return {"unexpected": True}


def derived(route: tuple[str, str], request: Request) -> Iterator[Variant]:
    """Bad variants that follow from the shape of one valid request."""
    method, path, kwargs = request
    tag = f"{method} {route[1]}" + (f" {kwargs['json'].get('op')}" if route == DDO_ROUTE else "")
    if "json" in kwargs:
        body: dict[str, Any] = kwargs["json"]
        optional = optional_keys(route, body["op"] if route == DDO_ROUTE else None)
        yield Variant(f"{tag}: a key it does not take", method, path, {"json": {**body, "bogus_key": 1}})
        for key, value in body.items():
            yield Variant(
                f"{tag}: {key} of the wrong type", method, path, {"json": {**body, key: wrong_type(value)}}
            )
            if key not in optional and key not in CRITERIA_KEYS:
                rest = {k: v for k, v in body.items() if k != key}
                yield Variant(f"{tag}: {key} left out", method, path, {"json": rest})
        raw = json.dumps(body).encode()
        as_json = {"Content-Type": "application/json"}
        yield Variant(f"{tag}: JSON cut short", method, path, {"content": raw[:-3], "headers": as_json})
        yield Variant(f"{tag}: a list for a body", method, path, {"json": [body]})
        yield Variant(f"{tag}: no body", method, path, {"content": b"", "headers": as_json})
        if "database_id" in body:
            for bad in (UNKNOWN_ID, *MALFORMED_IDS):
                yield Variant(
                    f"{tag}: database_id {bad!r}", method, path, {"json": {**body, "database_id": bad}}
                )
    if "params" in kwargs:
        params: dict[str, Any] = kwargs["params"]
        for key in params:
            if key not in optional_keys(route):
                rest = {k: v for k, v in params.items() if k != key}
                yield Variant(f"{tag}: {key} left out", method, path, {"params": rest})
            if key == "database_id":
                for bad in (UNKNOWN_ID, *MALFORMED_IDS):
                    yield Variant(
                        f"{tag}: database_id {bad!r}", method, path, {"params": {**params, key: bad}}
                    )
            elif key == "filters":
                yield Variant(f"{tag}: filters not JSON", method, path, {"params": {**params, key: "{n: 1"}})
            elif key == "collection_name":  # a find of a collection that does not exist finds nothing
                yield Variant(
                    f"{tag}: a bad collection name", method, path, {"params": {**params, key: "Bad Name"}}
                )
            else:
                yield Variant(f"{tag}: {key} not a number", method, path, {"params": {**params, key: "many"}})
    if route == UPLOAD_ROUTE:
        yield from upload_variants(tag, request)
    elif "files" in kwargs:
        form: dict[str, Any] = kwargs["data"]
        files = kwargs["files"]
        yield Variant(f"{tag}: no file", method, path, {"data": form})
        yield Variant(
            f"{tag}: a form field it does not take",
            method,
            path,
            {**kwargs, "data": {**form, "bogus_key": "1"}},
        )
        for key in form.keys() - optional_keys(route):
            rest = {k: v for k, v in form.items() if k != key}
            yield Variant(f"{tag}: {key} left out", method, path, {**kwargs, "data": rest})
        for bad in (UNKNOWN_ID, *MALFORMED_IDS):
            yield Variant(
                f"{tag}: database_id {bad!r}", method, path, {**kwargs, "data": {**form, "database_id": bad}}
            )
        (part, (filename, _)), *_ = files.items()
        for label, content in (
            ("cut short", b'[{"n": 9}, {"n":'),
            ("not an array of objects", b'[{"n": 1}, 2]'),
        ):
            # A new collection name too: a refused import must not create it.
            fresh = {**form, "collection_name": "fresh_import"}
            yield Variant(
                f"{tag}: file {label}", method, path, {"data": fresh, "files": {part: (filename, content)}}
            )
    if route == DDO_ROUTE:
        body = kwargs["json"]
        op = body["op"]
        yield Variant(f"{tag}: op misspelt", method, path, {"json": {**body, "op": op + "x"}})
        other = next(n for n in REGISTRY.names() if REGISTRY.resolve(n)[0] is not REGISTRY.resolve(op)[0])
        yield Variant(f"{tag}: action names another op", method, path, {"json": {**body, "action": other}})
        for bad in (UNKNOWN_ID, *MALFORMED_IDS[:1]):
            yield Variant(f"{tag}: database {bad!r}", method, f"/api/{bad}", kwargs)


def upload_variants(tag: str, request: Request) -> Iterator[Variant]:
    """The direct upload's bad forms: its fields, its file, its database."""
    method, path, kwargs = request
    form: dict[str, Any] = kwargs["data"]
    (part, (_, content)), *_ = kwargs["files"].items()
    yield Variant(f"{tag}: no file", method, path, {"data": form})
    yield Variant(f"{tag}: not a form", method, path, {"json": {**form, "file": "walk"}})
    for label, changes in (
        ("a form field it does not take", {"bogus_key": "1"}),
        ("public_read not a flag", {"public_read": "maybe"}),
        ("metadata not JSON", {"metadata": "{walked"}),
        ("metadata not an object", {"metadata": "[1, 2]"}),
        ("a folder that climbs", {"folder": "../../elsewhere"}),
    ):
        yield Variant(f"{tag}: {label}", method, path, {**kwargs, "data": {**form, **changes}})
    for label, name in (("a path for a name", "../../walk.txt"), ("a name over 255 characters", "w" * 300)):
        yield Variant(f"{tag}: {label}", method, path, {"data": form, "files": {part: (name, content)}})
    for bad in (UNKNOWN_ID, *MALFORMED_IDS[:1]):
        yield Variant(f"{tag}: database {bad!r}", method, f"/api/{bad}/files", kwargs)


# --- the promised refusals ---------------------------------------------------------------------

BAD_CRITERIA: tuple[tuple[str, dict[str, Any]], ...] = (
    ("an unknown operator", {"n": {"$bogus": 1}}),
    ("an unknown top-level operator", {"$where": "this.n == 1"}),
    ("an invalid $regex", {"s": {"$regex": "("}}),
    ("a $regex over 256 characters", {"s": {"$regex": "a" * 257}}),
    ("$in without a list", {"n": {"$in": 1}}),
)
BAD_MUTATIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("an unknown update operator", {"$bogus": {"n": 1}}),
    ("$inc by a string", {"$inc": {"n": "one"}}),
    ("a declared integer set to a string", {"$set": {"n": "not an integer"}}),
)
# Entries naming a declared field are refused only where ``n`` is declared (not in a new collection).
BAD_DOCUMENTS: tuple[tuple[str, Any], ...] = (
    ("a string for a document", "not a document"),
    ("an empty batch", []),
    ("a batch with one non-object", [{"n": 1}, "not a document"]),
    ("a declared integer holding a string", [{"n": 1}, {"n": "not an integer"}]),
    ("a batch over 1000", [{"n": i} for i in range(1001)]),
    ("a document nested deeper than 64", {"deep": json.loads("[" * 70 + "]" * 70)}),
)
EXPLAIN_REFUSALS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("analyze with an update", {"command": "update", "data": {"n": 0}, "analyze": True}),
    ("analyze with a delete", {"command": "delete", "analyze": True}),
    ("an unknown command", {"command": "insert"}),
    ("a key its command does not take", {"command": "count", "sort": "n"}),
    ("an update without its mutation", {"command": "update"}),
)
"""collection.explain / GET /api/explain: refused as the command they explain would be, or for
asking a write to run."""
BAD_NAMES = ("pg_catalog", "public", "pgcube", "information_schema", "Bad Name", "x" * 64, "")


def promised(route: tuple[str, str], request: Request) -> Iterator[Variant]:
    """The refusals each route or op promises, on top of the derived ones."""
    method, path, kwargs = request
    body = kwargs.get("json", {})
    tag = f"{method} {route[1]}" + (f" {body.get('op')}" if route == DDO_ROUTE else "")

    def with_body(label: str, **changes: Any) -> Variant:
        return Variant(f"{tag}: {label}", method, path, {"json": {**body, **changes}})

    if route == DDO_ROUTE:
        op, _ = REGISTRY.resolve(body["op"])
        verb = op.name.split(".")[1]
        # A missing collection is a 404 for most ops; a write creates it, and a read of it finds
        # nothing (SPEC §10a): for those, a name no collection can have.
        bad_name = op.collection.value == "creates" or op.when_missing is not None
        yield with_body(
            "a collection that does not exist" if not bad_name else "a bad collection name",
            collection="no_such" if not bad_name else "Bad Name",
        )
        if "match" in body:
            for label, criteria in BAD_CRITERIA:
                yield with_body(f"match with {label}", match=criteria)
        if verb == "insert":
            for label, data in BAD_DOCUMENTS:
                yield with_body(label, data=data)
                if "declared" not in label:
                    yield with_body(f"{label}, into a new collection", data=data, collection="fresh_insert")
        if verb == "update":
            for label, mutation in BAD_MUTATIONS:
                yield with_body(label, data=mutation)
        if verb == "upsert":
            for label, mutation in BAD_MUTATIONS:
                yield with_body(label, update=mutation)
                if "declared" not in label:
                    yield with_body(
                        f"{label}, into a new collection", update=mutation, collection="fresh_upsert"
                    )
            yield with_body("a string for the new document", insert="not a document")
        if verb == "restore":
            yield with_body("an unknown _ref", _ref="f" * 32)
            yield with_body("a malformed _ref", _ref="../../etc")
        if verb == "find":
            for key, value in (("limit", -1), ("limit", 1001), ("offset", -1), ("sort", {"n": "sideways"})):
                yield with_body(f"{key} {value!r}", **{key: value})
        if verb == "explain":
            for label, changes in EXPLAIN_REFUSALS:
                yield with_body(label, **changes)
        return

    if route in {("PUT", "/api/crud"), ("PATCH", "/api/crud"), ("DELETE", "/api/crud")}:
        yield with_body("empty filters without all", filters={})
        yield with_body("all: false with empty filters", filters={}, all=False)
        yield with_body("filters that match everything without all", filters={"$and": [{}]})
        for label, criteria in BAD_CRITERIA:
            yield with_body(f"filters with {label}", filters=criteria)
        if "update_data" in body:
            for label, mutation in BAD_MUTATIONS:
                yield with_body(label, update_data=mutation)
    if route == ("POST", "/api/crud"):
        for label, data in BAD_DOCUMENTS:
            yield with_body(label, data=data)
            if "declared" not in label:
                yield with_body(f"{label}, into a new collection", data=data, collection_name="fresh_crud")
        yield with_body("a bad collection name", collection_name="Bad Name")
        yield Variant(
            f"{tag}: a malformed Idempotency-Key",
            method,
            path,
            {"json": body, "headers": {"Idempotency-Key": "k" * 300}},
        )
    if route == ("GET", "/api/explain"):
        rest_refusals = (
            *EXPLAIN_REFUSALS,
            ("a delete of everything without all", {"command": "delete", "filters": {}}),
        )
        for label, changes in rest_refusals:
            as_text = {k: json.dumps(v) if isinstance(v, dict | bool) else v for k, v in changes.items()}
            params = {**kwargs["params"], **as_text}
            yield Variant(f"{tag}: {label}", method, path, {"params": params})
    if route == ("GET", "/api/crud"):
        params = kwargs["params"]
        for label, criteria in BAD_CRITERIA:
            yield Variant(
                f"{tag}: filters with {label}",
                method,
                path,
                {"params": {**params, "filters": json.dumps(criteria)}},
            )
        for key, value in (
            ("page_size", 1001),
            ("page", 0),
            ("page_size", 0),
            ("bogus_key", 1),
            ("filter", "{}"),
        ):
            yield Variant(f"{tag}: {key}={value}", method, path, {"params": {**params, key: value}})
    if route in {("GET", "/api/list_databases"), ("GET", "/api/end_users")}:
        for key, value in (("page_size", 1001), ("page", 0), ("page_size", -1), ("page", "many")):
            yield Variant(f"{tag}: {key}={value}", method, path, {"params": {**kwargs["params"], key: value}})
    if route == ("PUT", "/api/auth_settings"):
        for key in ("allow_email_signup", "require_verified_email", "verify_email_on_signup"):
            for value in ("false", 0, None):
                yield with_body(f"{key} {value!r}", **{key: value})
        yield with_body("a setting that does not exist", allow_signup=True)
    if route[1] == "/api/end_users" and route[0] != "GET":
        yield with_body("an end user who does not exist", _userkey="f" * 32)
        yield with_body("an empty _userkey", _userkey="")
        yield with_body("a _userkey over 64 characters", _userkey="a" * 65)
        if "disabled" in body:
            for value in ("false", 0, 1, None):
                yield with_body(f"disabled {value!r}", disabled=value)
    if route == ("POST", "/api/create_database"):
        for bad in BAD_NAMES:
            yield with_body(f"db_name {bad!r}", db_name=bad)
        yield with_body(
            "a field of an unknown type",
            collections=[{"name": "fresh", "fields": [{"name": "n", "type": "bogus"}]}],
        )
        yield with_body(
            "a bad collection after a good one", collections=[{"name": "fresh"}, {"name": "Bad Name"}]
        )
        yield with_body("the same collection twice", collections=[{"name": "fresh"}, {"name": "fresh"}])
        yield with_body(
            "an unknown access rule", collections=[{"name": "fresh", "access": {"read": "everyone"}}]
        )
        yield with_body(
            "an unknown key in the access rules",
            collections=[{"name": "fresh", "access": {"read": "all", "delete": "all"}}],
        )
        yield with_body(
            "an index on an object field",
            collections=[{"name": "fresh", "fields": [{"name": "o", "type": "object", "index": True}]}],
        )
    if route == ("POST", "/api/add_collection"):
        for bad in BAD_NAMES:
            yield with_body(f"collection name {bad!r}", collections=[{"name": bad}])
        yield with_body("a collection that exists", collections=[{"name": "items"}])
        yield with_body(
            "a good collection, then one that exists", collections=[{"name": "fresh"}, {"name": "items"}]
        )
        yield with_body("no collections", collections=[])
        yield with_body(
            "a field of an unknown type",
            collections=[{"name": "fresh", "fields": [{"name": "n", "type": "bogus"}]}],
        )
        yield with_body(
            "a field declared twice",
            collections=[{"name": "fresh", "fields": [{"name": "n", "type": "integer"}] * 2}],
        )
    if route[1] == "/api/drop_database":
        yield with_body("the wrong confirmation", confirmation="not the name")
        yield with_body("an empty confirmation", confirmation="")
    if route == ("POST", "/api/set_access"):
        yield with_body("an unknown rule", read="everyone")
        yield with_body("a rule that is not a string", write=1)
        yield with_body("a collection that does not exist", collection="no_such")
        yield with_body("a reserved name", collection="_users")
        yield with_body("an unknown key", public=True)
    if route == ("POST", "/api/create_index"):
        yield with_body("an undeclared field", fields=["n", "nope"])
        yield with_body("an object field", fields=["o"])
        yield with_body("no fields", fields=[])
        yield with_body("nine fields", fields=["n", "s"] * 4 + ["n"])
        yield with_body("a field twice", fields=["s", "s"])
        yield with_body("a system field", fields=["_key"])
        yield with_body("fields that have an index", fields=["n"])
        yield with_body("a collection that does not exist", collection="no_such")
        yield with_body("a reserved name", collection="_users")
        yield with_body("unique not a flag", unique="yes")
    if route == ("POST", "/api/drop_index"):
        for own in ("items$pkey", "items$data", "items$created", "items$f$n"):
            yield with_body(f"the collection's own index {own}", name=own)
        yield with_body("an index that does not exist", name="items$i$s")
        yield with_body("an index of another collection", collection="no_such")
        yield with_body("a reserved name", collection="_users")
    if route[1] == "/api/drop_collections":
        yield with_body("a collection that does not exist", collection_names=["no_such"])
        yield with_body("one that exists, one that does not", collection_names=["items", "no_such"])
        yield with_body("no collections", collection_names=[])
        yield with_body("a name that is not a collection's", collection_names=["_trash"])


def variants(db_id: str, name: str) -> dict[str, list[Variant]]:
    """Every bad variant, by route (``METHOD /template``) or, for the DDO route, by op name."""
    found: dict[str, list[Variant]] = {}
    for route, requests in valid_requests(db_id, name).items():
        for request in requests:
            key = request[2]["json"]["op"] if route == DDO_ROUTE else f"{route[0]} {route[1]}"
            found.setdefault(key, []).extend([*derived(route, request), *promised(route, request)])
    return found


def variant_keys() -> list[str]:
    return sorted(variants("x" * 24, "y"))


# --- the database and its snapshot -------------------------------------------------------------


def snapshot(pg: SyncPg, account_id: str) -> dict[str, Any]:
    """Everything of the account that a request could change, as comparable text."""

    def rows(sql: str, *args: Any) -> list[str]:
        return [r[0] for r in pg.fetch(f"SELECT row_to_json(t)::text FROM ({sql}) AS t ORDER BY 1", *args)]

    schemas = [
        r[0]
        for r in pg.fetch(
            "SELECT schema_name FROM pgcube.databases WHERE account_id = $1::uuid ORDER BY 1", account_id
        )
    ]
    state: dict[str, Any] = {
        "account": rows("SELECT * FROM pgcube.accounts WHERE id = $1::uuid", account_id),
        # Without last_used_at: every use of a key may write it (at most once a minute), refused or not.
        "api_keys": rows(
            "SELECT id, account_id, name, prefix, secret_hash, database_id, kind, created_at, revoked_at "
            "FROM pgcube.api_keys WHERE account_id = $1::uuid",
            account_id,
        ),
        "idempotency_keys": rows(
            "SELECT account_id, key, request_hash, status, response FROM pgcube.idempotency_keys"
        ),
        "databases": rows("SELECT * FROM pgcube.databases WHERE account_id = $1::uuid", account_id),
        "collections": rows(
            "SELECT c.* FROM pgcube.collections c JOIN pgcube.databases d ON d.id = c.database_id "
            "WHERE d.account_id = $1::uuid",
            account_id,
        ),
        "fields": rows(
            "SELECT f.* FROM pgcube.fields f JOIN pgcube.databases d ON d.id = f.database_id "
            "WHERE d.account_id = $1::uuid",
            account_id,
        ),
        "declared_indexes": rows(
            "SELECT i.* FROM pgcube.indexes i JOIN pgcube.databases d ON d.id = i.database_id "
            "WHERE d.account_id = $1::uuid",
            account_id,
        ),
        # A schema or table without a catalog row (DDL that escaped a rollback) shows here;
        # a backend's first temporary table (an import's staging) makes a pg_temp_N: not data.
        "schemas": rows("SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_(toast_)?temp_'"),
        "relations": rows(
            "SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = ANY($1::text[])",
            schemas,
        ),
        "indexes": rows(
            "SELECT schemaname, indexname, indexdef FROM pg_indexes WHERE schemaname = ANY($1::text[])",
            schemas,
        ),
        # The access rules as PostgreSQL holds them (SPEC §11.4).
        "policies": rows(
            "SELECT schemaname, tablename, policyname, cmd, roles::text, qual, with_check FROM pg_policies "
            "WHERE schemaname = ANY($1::text[])",
            schemas,
        ),
    }
    for schema, table in pg.fetch(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_schema = ANY($1::text[]) AND table_type = 'BASE TABLE' ORDER BY 1, 2",
        schemas,
    ):
        state[f"{schema}.{table}"] = rows(f'SELECT * FROM "{schema}"."{table}"')
    return state


@dataclass(frozen=True)
class Owned:
    account: Account
    db_id: str
    name: str
    end_user: dict[str, str]
    """A web key of the database with a signed-in end user's id_token."""

    def headers_for(self, key: str) -> dict[str, str]:
        """The owner's credential, or an end user's for an op that takes no account's."""
        return self.end_user if takes_no_account(key) else self.account.headers


def takes_no_account(key: str) -> bool:
    """Whether ``key`` names an op that refuses an account's credentials (``auth.*``)."""
    op = ddo_op({"json": {"op": key}}) if key in REGISTRY.names() else None
    return op is not None and PrincipalKind.ACCOUNT not in op.principals


def add_walker(pg: SyncPg, db_id: str) -> None:
    """The end user the walk's ``auth.*`` bodies name."""
    schema = pg.fetchval("SELECT schema_name FROM pgcube.databases WHERE id = $1", db_id)
    add_end_user_row(pg, schema, email=WALKER, metadata=b"{}", password_hash=password_hash())


EXPECTED_REFUSALS = {
    "collection.restore": (404, "NOT_FOUND"),  # nothing is in the trash under the made-up _ref
    "auth.refresh_token": (401, "INVALID_TOKEN"),  # a made-up refresh token
    "auth.update_account": (400, "INVALID_TOKEN"),  # a made-up code
    "auth.verify_email": (400, "INVALID_TOKEN"),
    "auth.verify_id_token": (401, "INVALID_TOKEN"),  # a made-up id_token
    "auth.nonce": (501, "FEATURE_UNAVAILABLE"),
    "file.postsign_upload": (400, "VALIDATION_ERROR"),  # the walk's file is a row: its bytes never came
    # The walk's server has no AI provider (tests/integration/ai/ has one): every xai.* op but
    # xai.vectorize answers 501 once the body and the database have passed.
    **dict.fromkeys(
        ("xai.generate", "xai.summarize", "xai.translate", "xai.classify", "xai.sentiment", "xai.extract"),
        (501, "AI_NOT_CONFIGURED"),
    ),
}
"""Valid requests that the walk's made-up values get refused, for that only."""


def no_vectors(key: str, pg: SyncPg) -> bool:
    """Whether ``key`` names a vector op and the server lacks pgvector (then it answers 501)."""
    return key in REGISTRY.names() and REGISTRY.resolve(key)[0].vectors and not pgvector_installed(pg)


def make_database(client: httpx.Client, account: Account, pg: SyncPg) -> tuple[str, str]:
    """A database with a collection ``items`` (declared integer ``n``, string ``s``, object ``o``; an
    index on ``n``), two documents and a trashed
    one, an end user with a session, and (where the server has pgvector) a vector collection ``items``
    with one entry."""
    name = "refusals_" + secrets.token_hex(4)
    created = client.post(
        "/api/create_database",
        json={
            "db_name": name,
            "collections": [
                {
                    "name": "items",
                    "fields": [
                        {"name": "n", "type": "integer"},
                        {"name": "s", "type": "string"},
                        {"name": "o", "type": "object"},
                    ],
                    "indexes": [{"fields": ["n"]}],  # drop_index's valid request drops it
                }
            ],
        },
        headers=account.headers,
    )
    assert created.status_code == 201, created.text
    db_id: str = created.json()["database"]["id"]
    for body in (
        {"op": "collection.insert", "collection": "items", "data": [{"n": 1, "s": "a"}, {"n": 2}, {"n": 3}]},
        {"op": "collection.delete", "collection": "items", "match": {"n": 3}},
    ):
        answer = client.post(f"/api/{db_id}", json=body, headers=account.headers)
        assert answer.status_code == 200, answer.text
    add_end_user(pg, db_id)
    add_vectors(client, account.headers, pg, db_id)
    return db_id, name


@pytest.fixture(scope="module")
def owned(module_client: httpx.Client, module_account: Account, pg: SyncPg) -> Owned:
    """The owner's database, with an API key, an idempotency row and an end user to protect as well."""
    db_id, name = make_database(module_client, module_account, pg)
    create_api_key(module_client, module_account, database_id=db_id)
    idempotent = module_client.post(
        f"/api/{db_id}",
        json={"op": "collection.insert", "collection": "items", "data": {"n": 4}},
        headers={**module_account.headers, "Idempotency-Key": "refusals-1"},
    )
    assert idempotent.status_code == 200, idempotent.text
    add_walker(pg, db_id)
    return Owned(module_account, db_id, name, end_user_headers(module_client, pg, module_account, db_id))


def refusal_problem(response: httpx.Response, ddo: bool, unavailable: bool = False) -> str | None:
    """What is wrong with ``response`` as a refusal in its dialect's envelope, or None.
    ``unavailable``: a 501 ``FEATURE_UNAVAILABLE`` refuses too (a vector op where the server has no
    pgvector, SPEC §13)."""
    if unavailable and response.status_code == 501:
        code = (
            response.json().get("error", {}).get("code")
            if "json" in response.headers["content-type"]
            else None
        )
        if code != "FEATURE_UNAVAILABLE":
            return f"501 {code}: {response.text[:300]}"
    elif not 400 <= response.status_code < 500:
        return f"status {response.status_code}: {response.text[:300]}"
    try:
        body = response.json()
    except ValueError:
        return f"not JSON: {response.text[:300]}"
    expected = {"error"} if ddo else {"success", "error"}
    if not isinstance(body, dict) or set(body) != expected or (not ddo and body["success"] is not False):
        return f"not the {'DDO' if ddo else 'REST'} envelope: {body}"
    error = body["error"]
    if not isinstance(error, dict) or set(error) != {"code", "message", "details"}:
        return f"not an error object: {error}"
    if not (isinstance(error["code"], str) and error["code"].isupper() and error["message"]):
        return f"no code or message: {error}"
    if not isinstance(error["details"], dict):
        return f"details not an object: {error}"
    return None


# --- the tests ---------------------------------------------------------------------------------


def test_every_route_and_op_has_bad_variants() -> None:
    found = variants("x" * 24, "y")
    routes = {f"{method} {path}" for method, path in api_routes() if (method, path) != DDO_ROUTE}
    assert routes - set(found) == set(), "give the new route a valid request in requests_for()"
    assert set(REGISTRY.names()) <= set(found), "every op name is walked"
    assert set(account_wide_requests()) == ACCOUNT_WIDE
    thin = {key: len(found[key]) for key in found if len(found[key]) < 5}
    assert not thin, thin


@pytest.mark.parametrize("key", variant_keys())
def test_refused_and_nothing_changed(key: str, module_client: httpx.Client, pg: SyncPg, owned: Owned) -> None:
    before = snapshot(pg, owned.account.account_id)
    problems = []
    for variant in variants(owned.db_id, owned.name)[key]:
        headers = {**owned.headers_for(key), **variant.kwargs.get("headers", {})}
        kwargs = {k: v for k, v in variant.kwargs.items() if k != "headers"}
        response = module_client.request(variant.method, variant.path, headers=headers, **kwargs)
        problem = refusal_problem(
            response,
            ddo=key in REGISTRY.names() or key == " ".join(UPLOAD_ROUTE),
            unavailable=no_vectors(key, pg),
        )
        after = snapshot(pg, owned.account.account_id)
        if after != before:
            changed = sorted(
                part for part in before.keys() | after.keys() if before.get(part) != after.get(part)
            )
            problem = f"{problem or 'refused'}, and it changed {changed}"
            before = after  # judge the next variants on their own
        if problem is not None:
            problems.append(f"{variant.label}: {problem}")
    assert not problems, "\n".join(problems)


def test_the_valid_requests_are_accepted(
    module_client: httpx.Client, module_account: Account, pg: SyncPg
) -> None:
    """Each variant differs from an accepted request by its defect only: the base requests pass
    (each on a database of its own, so that the drops do not get in each other's way)."""
    for route in valid_requests("x" * 24, "y"):
        for index in range(len(valid_requests("x" * 24, "y")[route])):
            db_id, name = make_database(module_client, module_account, pg)
            method, path, kwargs = valid_requests(db_id, name)[route][index]
            op = ddo_op(kwargs)
            headers = module_account.headers
            if op is not None and takes_no_account(op.name):
                add_walker(pg, db_id)
                headers = end_user_headers(module_client, pg, module_account, db_id)
            if op is not None and op.name.startswith("file."):
                add_walker(pg, db_id)
                add_file(pg, db_id)
            response = module_client.request(method, path, headers=headers, **kwargs)
            if op is not None and (op.name in EXPECTED_REFUSALS or no_vectors(op.name, pg)):
                status, code = EXPECTED_REFUSALS.get(op.name, (501, "FEATURE_UNAVAILABLE"))
                assert response.status_code == status, response.text
                assert response.json()["error"]["code"] == code, response.text
            else:
                assert response.status_code < 300, (method, path, kwargs, response.text)
            # Done with it (the account's database quota is smaller than the number of requests);
            # the drop routes' own requests have dropped it already.
            module_client.post(
                "/api/drop_database",
                json={"database_id": db_id, "confirmation": name},
                headers=module_account.headers,
            )
