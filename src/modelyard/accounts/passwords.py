"""Password hashing with argon2id, at the cost the settings ask for."""

from __future__ import annotations

from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from modelyard.config import Settings


class Passwords:
    """Hashes and checks passwords. A hash carries its own parameters, so hashes made at an
    earlier cost still verify after the settings change.

    Example:
        passwords = Passwords.from_settings(settings)
        stored = passwords.hash("correct-horse-battery")
        assert passwords.verify(stored, "correct-horse-battery")
    """

    def __init__(self, *, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Passwords:
        return cls(
            time_cost=settings.password_time_cost,
            memory_kib=settings.password_memory_kib,
            parallelism=settings.password_parallelism,
        )

    @cached_property
    def _dummy_hash(self) -> str:
        # Verified when a username does not exist, so a failed login takes the same time
        # either way. Made on first need rather than at start-up.
        return self._hasher.hash("modelyard-no-such-user")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            matches = self._hasher.verify(password_hash or self._dummy_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        return matches and password_hash is not None
