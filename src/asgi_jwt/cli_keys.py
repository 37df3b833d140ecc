"""``asgi-jwt keygen`` and ``asgi-jwt jwks``: new keys, and the public JWK Set others verify with.

Secrets are random and as long as their hash (RFC 7518 §3.2); key pairs are RSA
2048, the curve the algorithm names, or Ed25519, and each public key is published
with its RFC 7638 thumbprint as ``kid``. Private material is written with mode
0600 and never over an existing file.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from asgi_jwt.errors import ConfigurationError
from asgi_jwt.keys import KeyPair, PublicKey, SecretKey
from asgi_jwt.publish import JWKSEndpoint

__all__ = ["add_key_commands", "load_pem"]

_SECRET_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
_PAIR_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
SECRET_FILE = "jwt-secret.txt"
PRIVATE_FILE, PUBLIC_FILE, JWKS_FILE = "private.pem", "public.pem", "jwks.json"


def add_key_commands(commands: Any, formatter: type[argparse.HelpFormatter], examples: Callable[..., str]) -> None:
    keygen = commands.add_parser(
        "keygen",
        help="make an HMAC secret or a key pair with its JWK Set",
        formatter_class=formatter,
        description=(
            "Make a random HMAC secret (printed on stdout), or a PEM key pair and the public JWK Set.\n"
            f"--out DIR writes {SECRET_FILE}, or {PRIVATE_FILE} (mode 0600), {PUBLIC_FILE} and {JWKS_FILE}."
        ),
        epilog=examples(
            "export JWT_SECRET_KEY=$(asgi-jwt keygen)",
            "asgi-jwt keygen --algorithm ES256 --out keys/",
        ),
    )
    keygen.add_argument(
        "--algorithm", default="HS256", choices=(*_SECRET_BYTES, *_PAIR_ALGORITHMS), help="default: HS256"
    )
    keygen.add_argument("--out", metavar="DIR", help="write files into DIR instead of printing")
    keygen.set_defaults(run=_keygen)

    jwks = commands.add_parser(
        "jwks",
        help="print the public JWK Set of PEM keys",
        formatter_class=formatter,
        description="Print the public JWK Set (RFC 7517) of PEM keys; private keys give their public half.",
        epilog=examples("asgi-jwt jwks keys/public.pem old/public.pem > jwks.json"),
    )
    jwks.add_argument("pem", nargs="+", help="PEM files: public keys, certificates or private keys")
    jwks.add_argument("--algorithm", help="for RSA keys: RS256 (default), PS256, …")
    jwks.set_defaults(run=_jwks)


def load_pem(path: str, algorithm: str | None, kid: str | None, *, thumbprint_kid: bool = False) -> KeyPair | PublicKey:
    """A private key as a ``KeyPair``, a public key or certificate as a ``PublicKey``."""
    data = Path(path).read_bytes()
    key: KeyPair | PublicKey
    try:
        key = (
            KeyPair(data, algorithm=algorithm, kid=kid)
            if b"PRIVATE KEY-----" in data
            else PublicKey(data, algorithm=algorithm, kid=kid)
        )
        if kid is None and thumbprint_kid:
            return load_pem(path, algorithm, key.to_jwk()["kid"])
    except ConfigurationError as exc:
        raise ConfigurationError(f"{path}: {exc}") from None
    return key


def _keygen(args: argparse.Namespace) -> int:
    out = None if args.out is None else Path(args.out)
    if args.algorithm in _SECRET_BYTES:
        secret = secrets.token_urlsafe(_SECRET_BYTES[args.algorithm])
        SecretKey(secret, algorithm=args.algorithm)  # the library's own rules accept it
        if out is None:
            print(secret)
        else:
            _write(out / SECRET_FILE, f"{secret}\n".encode(), private=True)
        return 0
    pair = KeyPair.generate(args.algorithm)
    jwks = json.dumps(JWKSEndpoint(pair).jwks, indent=2) + "\n"
    if out is None:
        sys.stdout.write(pair.private_pem().decode() + pair.public_pem().decode() + jwks)
        return 0
    _write(out / PRIVATE_FILE, pair.private_pem(), private=True)
    _write(out / PUBLIC_FILE, pair.public_pem(), private=False)
    _write(out / JWKS_FILE, jwks.encode(), private=False)
    return 0


def _write(path: Path, data: bytes, *, private: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o644)
    except FileExistsError:
        raise ConfigurationError(f"{path} already exists: not overwritten") from None
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
    print(f"wrote {path}{' (mode 0600: keep it secret)' if private else ''}", file=sys.stderr)


def _jwks(args: argparse.Namespace) -> int:
    keys = [load_pem(path, args.algorithm, None) for path in args.pem]
    print(json.dumps(JWKSEndpoint(*keys).jwks, indent=2))
    return 0
