"""Passwords (argon2id through pwdlib) and random tokens stored only as SHA-256.

API tokens and login-session tokens are 32 random bytes (URL-safe base64), shown to their
owner once; the store keeps their SHA-256, so a copy of the database grants no access. A
fast hash is right for them (they carry 256 bits of entropy); passwords, which carry
little, get argon2id.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["hash_password", "hash_token", "new_token", "same_hash", "verify_password"]

#: Prefix of API tokens, so a leaked one is recognisable in logs and scanners.
TOKEN_PREFIX = "h2k_"


def _hasher():
    from pwdlib import PasswordHash
    from pwdlib.hashers.argon2 import Argon2Hasher

    return PasswordHash((Argon2Hasher(),))


def hash_password(password: str) -> str:
    """argon2id hash (PHC string) of ``password``."""
    return _hasher().hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    """Whether ``password`` matches; False for a malformed hash."""
    try:
        return _hasher().verify(password, password_hash)
    except Exception:  # pwdlib raises its own errors for a hash it does not know
        return False


def new_token(prefix: str = TOKEN_PREFIX) -> str:
    """A fresh random token (256 bits)."""
    return prefix + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """SHA-256 hex of a token: what the store keeps."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same_hash(a: str, b: str) -> bool:
    """Constant-time comparison of two hex digests."""
    return hmac.compare_digest(a.encode(), b.encode())
