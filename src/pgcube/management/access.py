"""Whether a web key may run a collection op at all, by the collection's rule for it (SPEC §11.4).

Only the coarse answer lives here — ``none`` is a 403, ``users``/``owner``
without a signed-in end user a 401. Which documents a web key then sees or
changes is PostgreSQL's decision: its statements run as ``pgcube_web`` under
the table's row-level security (``Session.acting_as``, migration 0006).
"""

from __future__ import annotations

from pgcube.errors import AuthenticationFailed, Forbidden
from pgcube.management.models import Access, AccessRule
from pgcube.principal import Principal

SIGN_IN = "This collection's access rules need a signed-in end user: send Authorization: Bearer <id_token>"


def rule_for(access: Access, *, write: bool) -> AccessRule:
    return access.write if write else access.read


def admit(rule: AccessRule, principal: Principal) -> None:
    """Refuse a web key that the rule keeps out whoever signed in; pass otherwise."""
    if rule is AccessRule.NONE:
        raise Forbidden("This collection's access rules do not let web keys do this")
    if rule is not AccessRule.ALL and principal.user_key is None:
        raise AuthenticationFailed(SIGN_IN)
