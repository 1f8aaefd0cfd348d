"""Client ids, secrets, their keyed hash, and the server key they are hashed under."""

from __future__ import annotations

import re
import threading

from sqlalchemy import Engine, func, insert, select

from oms_export.auth.secrets import (
    SECRET_HASH_KEY,
    _create_key,
    hash_secret,
    new_client_id,
    new_client_secret,
    secrets_match,
    server_key,
)
from oms_export.db.engine import make_engine, writer
from oms_export.db.schema import server_keys
from oms_export.settings import Settings

ALPHANUMERIC = re.compile(r"^[A-Za-z0-9]+$")


def _stored_keys(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(server_keys)).scalar_one())


def test_client_ids_are_random_alphanumeric_and_at_least_24_chars() -> None:
    # Alphanumeric: an id starting with `-` would be taken for an option by `clients revoke`.
    ids = {new_client_id() for _ in range(500)}
    assert len(ids) == 500
    assert all(len(client_id) >= 24 and ALPHANUMERIC.match(client_id) for client_id in ids)


def test_client_secrets_carry_more_than_256_random_bits() -> None:
    secrets = {new_client_secret() for _ in range(500)}
    assert len(secrets) == 500
    # Each of 62 symbols carries log2(62) > 5.95 bits; 43 of them exceed 256 bits (32 bytes).
    assert all(len(secret) >= 43 and ALPHANUMERIC.match(secret) for secret in secrets)
    assert len(set("".join(secrets))) == 62


def test_hash_secret_is_hmac_sha256_hex() -> None:
    # RFC 4231, test case 2.
    assert hash_secret(b"Jefe", "what do ya want for nothing?") == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


def test_secrets_match_only_the_same_secret_under_the_same_key() -> None:
    stored = hash_secret(b"key-one", "s3cret")
    assert secrets_match(b"key-one", "s3cret", stored)
    assert not secrets_match(b"key-one", "s3cret ", stored)
    assert not secrets_match(b"key-two", "s3cret", stored)
    assert not secrets_match(b"key-one", "s3cret", "0" * 64)


def test_server_key_is_the_secret_key_setting_when_set(engine: Engine, settings: Settings) -> None:
    assert server_key(engine, settings) == settings.secret_key.encode()
    assert _stored_keys(engine) == 0


def test_server_key_without_setting_is_made_once_and_kept(
    engine: Engine, settings: Settings
) -> None:
    keyless = settings.with_changes(secret_key="")
    first = server_key(engine, keyless)
    assert len(first) == 32
    with engine.connect() as conn:
        assert server_key(conn, keyless) == first
    other_engine = make_engine(keyless)
    try:
        assert server_key(other_engine, keyless) == first
    finally:
        other_engine.dispose()
    assert _stored_keys(engine) == 1


def test_losing_the_creation_race_returns_the_winners_key(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(server_keys).values(name=SECRET_HASH_KEY, value="ab" * 32))
    assert _create_key(engine) == bytes.fromhex("ab" * 32)


def test_losing_the_race_inside_a_transaction_keeps_that_transaction_usable(
    engine: Engine,
) -> None:
    with writer(engine).begin() as conn:
        conn.execute(insert(server_keys).values(name=SECRET_HASH_KEY, value="cd" * 32))
        assert _create_key(conn) == bytes.fromhex("cd" * 32)
        assert conn.execute(select(func.count()).select_from(server_keys)).scalar_one() == 1
    assert _stored_keys(engine) == 1


def test_concurrent_first_use_agrees_on_one_key(settings: Settings) -> None:
    keyless = settings.with_changes(secret_key="")
    engines = [make_engine(keyless) for _ in range(4)]
    barrier = threading.Barrier(len(engines))
    keys: list[bytes] = []

    def first_use(engine: Engine) -> None:
        barrier.wait()
        keys.append(server_key(engine, keyless))

    threads = [threading.Thread(target=first_use, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert len(keys) == len(engines)
        assert len(set(keys)) == 1
        assert _stored_keys(engines[0]) == 1
    finally:
        for engine in engines:
            engine.dispose()
