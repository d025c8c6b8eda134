"""Everything that talks to PostgreSQL directly: pool, embedded server, migrations, SQLSTATE mapping."""
