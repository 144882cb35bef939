"""Connecting to the application's PostgreSQL, read-only, with the password kept secret.

The URL is libpq's (``postgresql://user@host:port/db``); the password comes from the URL, else
``PGPASSWORD``, else ``~/.pgpass`` (``PGPASSFILE``), as libpq reads them. Whichever it is, it is
registered as a secret: every message agent-otlp writes masks it, and the source's name
(:func:`safe_name`) never holds it. Every transaction is ``READ ONLY`` and the session's time
zone is UTC (RAAF's timestamps are UTC without a zone).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from agent_otlp.core.config.errors import ConfigError
from agent_otlp.core.config.secrets import redact_text, register_secret
from agent_otlp.sources.plugins import masked_location

if TYPE_CHECKING:
    import psycopg

__all__ = ["SCHEMES", "connect", "safe_name"]

SCHEMES: Final = ("postgresql://", "postgres://")
_INSTALL: Final = "the raaf-rails source needs psycopg 3: pip install 'agent-otlp[postgres]'"


def _params(location: str) -> dict[str, Any]:
    from psycopg.conninfo import conninfo_to_dict

    try:
        return dict(conninfo_to_dict(location))
    except Exception as exc:  # libpq's parser: a bad port, an unknown parameter
        raise ConfigError("--from", masked_location(location),
                          f"not a PostgreSQL URL ({redact_text(str(exc))})") from None


def safe_name(params: Mapping[str, Any]) -> str:
    """``postgresql://user@host:port/db``: what the URL names, without its password."""
    user = f"{params['user']}@" if params.get("user") else ""
    port = f":{params['port']}" if params.get("port") else ""
    return f"postgresql://{user}{params.get('host') or 'localhost'}{port}/{params.get('dbname') or ''}"


def connect(location: str, env: Mapping[str, str], schema: str | None) -> tuple[psycopg.Connection[Any], str]:
    """A read-only connection and the safe name of what it reaches."""
    try:
        import psycopg
    except ImportError:
        raise ConfigError("--source", "raaf-rails", _INSTALL) from None
    params = _params(location)
    if params.get("password"):
        register_secret(str(params["password"]))
    elif env.get("PGPASSWORD"):
        register_secret(env["PGPASSWORD"])
        params["password"] = env["PGPASSWORD"]
    if env.get("PGPASSFILE") and "passfile" not in params:
        params["passfile"] = env["PGPASSFILE"]
    params.setdefault("connect_timeout", 10)
    params.setdefault("application_name", "agent-otlp")
    name = safe_name(params)
    try:
        conn = psycopg.connect(**params)
    except psycopg.Error as exc:
        raise ConfigError("--from", name, f"cannot connect: {redact_text(str(exc).strip())}") from None
    conn.read_only = True
    with conn.cursor() as cur:
        cur.execute("SET TIME ZONE 'UTC'")
        if schema:
            from psycopg import sql

            cur.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
    conn.commit()
    return conn, name
