"""The compose file's PostgreSQL accepts the connections its own API processes and worker may open."""

from __future__ import annotations

from app.capacity import CapacitySettings
from tests.foundation.test_compose_uploads import _config

# The API runs one process per core (WEB_CONCURRENCY unset); the compose file is sized for hosts up to this many.
CORES = 8
# Migrations, an operator's psql, PostgreSQL's own reserved superuser slots.
HEADROOM = 10


def _max_connections(command: list[str]) -> int:
    settings = [command[i + 1] for i, arg in enumerate(command) if arg == "-c"]
    (value,) = [s.split("=", 1)[1] for s in settings if s.startswith("max_connections=")]
    return int(value)


def test_postgres_takes_every_pool_of_an_eight_core_host() -> None:
    services = _config()["services"]
    # The defaults as written, not as this machine's environment may set them.
    fields = CapacitySettings.model_fields
    per_process = int(fields["database_pool_size"].default) + int(fields["database_max_overflow"].default)
    for name in ("api", "worker"):
        environment = services[name]["environment"]
        assert "DATABASE_POOL_SIZE" not in environment and "DATABASE_MAX_OVERFLOW" not in environment
        assert environment["WEB_CONCURRENCY"] == "", "one API process per core, as sized here"
    needed = (CORES + 1) * per_process + HEADROOM
    assert _max_connections(services["postgres"]["command"]) >= needed


def test_max_connections_is_a_setting() -> None:
    services = _config(POSTGRES_MAX_CONNECTIONS="500")["services"]
    assert _max_connections(services["postgres"]["command"]) == 500
