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
        params = dict(conninfo_to_dict(location))
    except Exception as exc:  # libpq's parser: an unknown parameter, bad quoting
        raise ConfigError("--from", masked_location(location),
                          f"not a PostgreSQL URL ({redact_text(str(exc))})") from None
    for port in str(params.get("port") or "5432").split(","):
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError("--from", masked_location(location), f"not a PostgreSQL URL (port {port!r} "
                              "is not a number from 1 to 65535): postgresql://user@host:port/db")
    return params


def safe_name(params: Mapping[str, Any]) -> str:
    """``postgresql://user@host:port/db``: what the URL names, without its password."""
    user = f"{params['user']}@" if params.get("user") else ""
    port = f":{params['port']}" if params.get("port") else ""
    return f"postgresql://{user}{params.get('host') or 'localhost'}{port}/{params.get('dbname') or ''}"


def _why(exc: Exception, params: Mapping[str, Any], origin: str) -> str:
    """What the failure means, naming the setting to change."""
    text = str(exc)
    state = getattr(exc, "sqlstate", None)
    if state == "28P01" or "password authentication failed" in text:
        return f"the password for user {params.get('user') or '(default)'} ({origin}) was refused"
    if "no password supplied" in text:
        return "the server asks for a password: give it in the URL, PGPASSWORD or ~/.pgpass"
    if state == "3D000" or ("database" in text and "does not exist" in text):
        return f"no database {params.get('dbname')!r} there (the URL's path)"
    if "Connection refused" in text or "could not connect" in text:
        return (f"nothing listens at host {params.get('host') or 'localhost'} port "
                f"{params.get('port') or 5432} (the URL's host and port)")
    if "timeout" in text:
        return "no answer in time (host and port in the URL; connect_timeout)"
    return "the server refused the connection"


def connect(location: str, env: Mapping[str, str], schema: str | None) -> tuple[psycopg.Connection[Any], str]:
    """A read-only connection and the safe name of what it reaches."""
    try:
        import psycopg
    except ImportError:
        raise ConfigError("--source", "raaf-rails", _INSTALL) from None
    params = _params(location)
    origin = "~/.pgpass or PGPASSFILE"
    if params.get("password"):
        register_secret(str(params["password"]))
        origin = "the URL"
    elif env.get("PGPASSWORD"):
        register_secret(env["PGPASSWORD"])
        params["password"] = env["PGPASSWORD"]
        origin = "PGPASSWORD"
    if env.get("PGPASSFILE") and "passfile" not in params:
        params["passfile"] = env["PGPASSFILE"]
    params.setdefault("connect_timeout", 10)
    params.setdefault("application_name", "agent-otlp")
    name = safe_name(params)
    try:
        conn = psycopg.connect(**params)
    except psycopg.Error as exc:
        said = redact_text(" ".join(str(exc).split()))
        raise ConfigError("--from", name, f"cannot connect: {_why(exc, params, origin)} ({said})") from None
    conn.read_only = True
    with conn.cursor() as cur:
        cur.execute("SET TIME ZONE 'UTC'")
        if schema:
            from psycopg import sql

            cur.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
    conn.commit()
    return conn, name
