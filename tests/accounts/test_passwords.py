from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from modelyard.accounts.passwords import Passwords
from modelyard.config import Settings


def test_the_default_cost_is_rfc_9106_low_memory(tmp_path: Path) -> None:
    stored = Passwords.from_settings(Settings(home=tmp_path)).hash("s3cret-pass")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_hashes_made_at_another_cost_still_verify() -> None:
    cheap = Passwords(time_cost=1, memory_kib=8, parallelism=1)
    dearer = Passwords(time_cost=2, memory_kib=64, parallelism=2)
    assert dearer.verify(cheap.hash("s3cret-pass"), "s3cret-pass")
    assert not dearer.verify(cheap.hash("s3cret-pass"), "wrong-pass")


def test_no_user_or_a_broken_hash_never_verifies() -> None:
    passwords = Passwords(time_cost=1, memory_kib=8, parallelism=1)
    assert not passwords.verify(None, "modelyard-no-such-user")
    assert not passwords.verify("not-a-hash", "s3cret-pass")


def test_settings_refuse_less_than_8_kib_per_lane(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="at least 8 per lane"):
        Settings(home=tmp_path, password_memory_kib=16, password_parallelism=4)
