"""What the SQL stores share for public clients and device authorizations (migration 0012): the statements
(``?`` placeholders; PostgreSQL numbers them with ``common.numbered``) and the row <-> record mappers.

Every device-code transition is one conditional statement (``UPDATE ... WHERE <state> RETURNING``): a poll, a
decision, a redemption; so however many requests race, a device code is decided once and redeemed once.
"""

from __future__ import annotations

from typing import Any

import orjson

from ssoidc.storage.base import (
    DEVICE_APPROVED,
    DEVICE_CONSUMED,
    DEVICE_PENDING,
    ClientRecord,
    DevicePoll,
    DeviceRecord,
)

CLIENT_COLUMNS = (
    "client_id",
    "client_name",
    "client_type",
    "scopes",
    "grant_types",
    "redirect_uris",
    "issuer_url",
    "entitled_application_arn",
    "created_at",
    "expires_at",
)
CLIENT_COLS = ", ".join(CLIENT_COLUMNS)
INSERT_CLIENT_SQL = (
    f"INSERT INTO public_clients ({CLIENT_COLS}) VALUES ({', '.join('?' * len(CLIENT_COLUMNS))})"
    " ON CONFLICT (client_id) DO NOTHING"
)
GET_CLIENT_SQL = f"SELECT {CLIENT_COLS} FROM public_clients WHERE client_id = ?"

DEVICE_COLUMNS = (
    "device_hash",
    "user_code_hash",
    "client_id",
    "scopes",
    "start_url",
    "family_id",
    "issued_at",
    "expires_at",
    "poll_interval",
    "status",
    "user_id",
    "auth_time",
    "decided_at",
    "last_poll_at",
)
DEVICE_COLS = ", ".join(DEVICE_COLUMNS)
INSERT_DEVICE_SQL = (
    f"INSERT INTO device_codes ({DEVICE_COLS}) VALUES ({', '.join('?' * len(DEVICE_COLUMNS))})"
    " ON CONFLICT DO NOTHING"
)
FIND_DEVICE_BY_USER_CODE_SQL = (
    f"SELECT {DEVICE_COLS} FROM device_codes WHERE user_code_hash = ? AND status = '{DEVICE_PENDING}'"
    " AND expires_at > ?"
)
"""Parameters: user code hash, now."""
DECIDE_DEVICE_SQL = (
    "UPDATE device_codes SET status = ?, user_id = ?, auth_time = ?, decided_at = ?"
    f" WHERE user_code_hash = ? AND status = '{DEVICE_PENDING}' AND expires_at > ? RETURNING {DEVICE_COLS}"
)
"""Parameters: new status, user id, auth time, now, user code hash, now."""
_TOO_SOON = "(last_poll_at IS NOT NULL AND ? - last_poll_at < poll_interval - ?)"
POLL_DEVICE_SQL = (
    f"UPDATE device_codes SET slowed = CASE WHEN {_TOO_SOON} THEN 1 ELSE 0 END,"
    f" poll_interval = CASE WHEN {_TOO_SOON} AND poll_interval + 5 <= ? THEN poll_interval + 5"
    " ELSE poll_interval END,"
    " last_poll_at = ?"
    f" WHERE device_hash = ? AND client_id = ? AND status <> '{DEVICE_CONSUMED}'"
    f" RETURNING {DEVICE_COLS}, slowed"
)
"""Parameters (``poll_params``): now, leeway, now, leeway, max interval, now, device hash, client id. Every
``SET`` expression reads the row as it was before the update (SQL semantics, both dialects)."""
REDEEM_DEVICE_SQL = (
    f"UPDATE device_codes SET status = '{DEVICE_CONSUMED}'"
    f" WHERE device_hash = ? AND client_id = ? AND status = '{DEVICE_APPROVED}' AND expires_at > ?"
)
"""Parameters: device hash, client id, now."""

PURGE_PUBLIC_SQL: tuple[tuple[str, float], ...] = (
    (
        "DELETE FROM public_clients WHERE client_id IN"
        " (SELECT client_id FROM public_clients WHERE expires_at < ? LIMIT ?)",
        0.0,
    ),
    (
        "DELETE FROM device_codes WHERE device_hash IN"
        " (SELECT device_hash FROM device_codes WHERE expires_at < ? LIMIT ?)",
        3600.0,
    ),
)
"""``(statement, age)``: expired registrations at once; device codes an hour after they expired (until then a
late poll is told ExpiredTokenException, as RFC 8628 3.5 says, rather than InvalidGrant)."""


def poll_params(
    device_hash: bytes, client_id: str, now: float, leeway: float, max_interval: float
) -> tuple[Any, ...]:
    return (now, leeway, now, leeway, max_interval, now, device_hash, client_id)


def client_params(c: ClientRecord) -> tuple[Any, ...]:
    return (
        c.client_id,
        c.client_name,
        c.client_type,
        " ".join(c.scopes),
        None if c.grant_types is None else orjson.dumps(list(c.grant_types)).decode(),
        orjson.dumps(list(c.redirect_uris)).decode(),
        c.issuer_url,
        c.entitled_application_arn,
        c.created_at,
        c.expires_at,
    )


def client_record(row: Any) -> ClientRecord:
    return ClientRecord(
        client_id=row[0],
        client_name=row[1],
        client_type=row[2],
        scopes=tuple(row[3].split()),
        grant_types=None if row[4] is None else tuple(orjson.loads(row[4])),
        redirect_uris=tuple(orjson.loads(row[5])),
        issuer_url=row[6],
        entitled_application_arn=row[7],
        created_at=float(row[8]),
        expires_at=float(row[9]),
    )


def device_params(d: DeviceRecord) -> tuple[Any, ...]:
    return (
        d.device_hash,
        d.user_code_hash,
        d.client_id,
        " ".join(d.scopes),
        d.start_url,
        d.family_id,
        d.issued_at,
        d.expires_at,
        d.interval,
        d.status,
        d.user_id,
        d.auth_time,
        d.decided_at,
        d.last_poll_at,
    )


def _opt(v: Any) -> float | None:
    return None if v is None else float(v)


def device_record(row: Any) -> DeviceRecord:
    return DeviceRecord(
        device_hash=bytes(row[0]),
        user_code_hash=bytes(row[1]),
        client_id=row[2],
        scopes=tuple(row[3].split()),
        start_url=row[4],
        family_id=row[5],
        issued_at=float(row[6]),
        expires_at=float(row[7]),
        interval=float(row[8]),
        status=row[9],
        user_id=row[10],
        auth_time=_opt(row[11]),
        decided_at=_opt(row[12]),
        last_poll_at=_opt(row[13]),
    )


def device_poll(row: Any) -> DevicePoll:
    return DevicePoll(device_record(row), bool(row[len(DEVICE_COLUMNS)]))
