"""Encryption of Instagram tokens at rest: Fernet, with MultiFernet so keys can be rotated."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class TokenDecryptionError(Exception):
    """The stored ciphertext matches none of the configured keys (a key was removed too early)."""


class TokenCipher:
    """Encrypts with the first key of TOKEN_ENCRYPTION_KEY; decrypts with any of them."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one Fernet key is required")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    def encrypt(self, token: str) -> str:
        return self._fernet.encrypt(token.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise TokenDecryptionError("stored token cannot be decrypted with the configured keys") from exc

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt with the current first key (for `python -m app rotate-keys`)."""
        try:
            return self._fernet.rotate(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise TokenDecryptionError("stored token cannot be decrypted with the configured keys") from exc
