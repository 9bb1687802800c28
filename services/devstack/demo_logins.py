"""The demo agency's logins of ``make run``: one password, made once, kept in the data folder.

Why kept: a person logs in, bookmarks, scripts a curl; a password that changed at every start
broke all of that. The password lives in ``<data>/demo-logins.json`` (mode 0600, the data
folder is git-ignored) and the seed is given it on every start, so a database that was reset
gets the same logins back. The file holds one entry per database: the embedded one, or an
external one named by its URL without the password (user, host, port, database), so pointing
``make run`` at another database never reuses, nor overwrites, another database's logins.
``CHORUS_DEMO_PASSWORD``, when set, wins for that run and is not stored.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from services.devstack.errors import DevStackError
from services.devstack.sharing import DataDirLock
from services.devstack.stack import LOCK_FILE
from shared.demo import DEMO_EMAIL, DEMO_MEMBERS

FILE_NAME = "demo-logins.json"
EMBEDDED_KEY = "embedded"
PASSWORD_ENV = "CHORUS_DEMO_PASSWORD"
READY_LINE = "demo agency ready"
"""The demo task's first words once the demo is seeded (and connected): the stack waits for
them, not for the task's exit."""


@dataclass(frozen=True)
class Login:
    role: str
    email: str
    password: str
    note: str = ""


def database_key(url: str | None) -> str:
    """``embedded`` for the devstack's own PostgreSQL, else the URL without its password."""
    if url is None:
        return EMBEDDED_KEY
    parts = urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{user}{parts.hostname or ''}{port}{parts.path}"


def password_for(data_dir: Path, key: str, env: Mapping[str, str]) -> str:
    """The demo password for database `key`: the stored one, or a new one stored now."""
    given = env.get(PASSWORD_ENV, "")
    if given:
        return given
    path = data_dir / FILE_NAME
    with DataDirLock(data_dir / LOCK_FILE):
        data = _read(path)
        databases = data.get("databases")
        if not isinstance(databases, dict):
            databases = data["databases"] = {}
        entry = databases.get(key)
        if isinstance(entry, dict) and isinstance(entry.get("password"), str):
            _private(path)
            return str(entry["password"])
        password = secrets.token_urlsafe(12)
        databases[key] = {"password": password, "created_at": datetime.now(UTC).isoformat()}
        data["about"] = (
            "The demo logins of `make run`, one password per database, kept so they stay "
            "the same from run to run. Delete an entry (or the file) for a new password."
        )
        _write(path, data)
        return password


def logins(password: str) -> list[Login]:
    """Every demo login, the owner first."""
    found = [Login("owner", DEMO_EMAIL, password)]
    for member in DEMO_MEMBERS:
        # Short enough for an 80-column terminal: "manager of nyc-001" for a location role.
        role = member.role.replace("_", " ")
        if member.location_ref:
            role = f"manager of {member.location_ref}"
        found.append(Login(role, member.email, password))
    return found


def _read(path: Path) -> dict[str, object]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise DevStackError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = json.loads(text)
    except ValueError:
        raise DevStackError(
            f"{path} is not JSON; fix it or delete it (the demo gets a new password)"
        ) from None
    if not isinstance(data, dict):
        raise DevStackError(f"{path} is not a JSON object; delete it for a new demo password")
    return data


def _write(path: Path, data: Mapping[str, object]) -> None:
    """Write the file whole (a temporary file renamed over it), readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)
        handle.write("\n")
    os.replace(tmp, path)


def _private(path: Path) -> None:
    """A file copied in with wider permissions is made private again."""
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
