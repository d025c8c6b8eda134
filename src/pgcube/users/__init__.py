"""End users: the people who sign in to the apps built on a logical database (SPEC §11)."""
