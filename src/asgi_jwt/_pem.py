"""Key material from PEM text and files, parsed once and refused with one clear message."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from asgi_jwt._algorithms import PrivateKeyType, PublicKeyType
from asgi_jwt.errors import ConfigurationError

__all__ = ["as_bytes", "load_private_pem", "load_public_pem", "looks_like_key_material", "read_file"]


def as_bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)


def read_file(path: str | Path) -> bytes:
    """The file's bytes; a missing or unreadable file is a :class:`~asgi_jwt.ConfigurationError` naming it."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read key file {str(path)!r}: {exc.strerror}") from exc


def looks_like_key_material(raw: bytes) -> bool:
    """True for PEM, OpenSSH or JWK text: what must never be taken for an HMAC secret."""
    text = raw.strip()
    if text.startswith(b"-----BEGIN") or text.startswith((b"ssh-rsa ", b"ssh-ed25519 ", b"ecdsa-sha2-")):
        return True
    if text.startswith(b"{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            return False
        return isinstance(parsed, dict) and "kty" in parsed
    return False


def load_public_pem(pem: bytes) -> PublicKeyType:
    """A public key from a PEM public key or X.509 certificate."""
    if b"PRIVATE KEY-----" in pem:
        raise ConfigurationError("PublicKey got a private key; use KeyPair to sign, or pass the public half")
    try:
        if b"-----BEGIN CERTIFICATE-----" in pem:
            from cryptography import x509

            loaded: Any = x509.load_pem_x509_certificate(pem).public_key()
        else:
            loaded = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError("not a PEM public key or certificate") from exc
    if not isinstance(loaded, PublicKeyType):
        raise ConfigurationError(f"unsupported public key type {type(loaded).__name__}")
    return loaded


def load_private_pem(pem: bytes, password: bytes | None) -> PrivateKeyType:
    """A private key from PEM (PKCS#8 or traditional), decrypted with ``password`` when given."""
    if b"PRIVATE KEY-----" not in pem:
        raise ConfigurationError("KeyPair needs a PEM private key; use PublicKey for a public key")
    try:
        loaded: Any = serialization.load_pem_private_key(pem, password=password)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError("not a usable PEM private key (or a wrong password)") from exc
    if not isinstance(loaded, PrivateKeyType):
        raise ConfigurationError(f"unsupported private key type {type(loaded).__name__}")
    return loaded
