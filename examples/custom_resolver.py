"""Your own key resolver: keys kept somewhere else (a vault, a database, a config service).

A resolver is any object with ``async resolve(header) -> Sequence[VerificationKey]``;
nothing to inherit. The token's header is *unverified*: use its ``kid`` only to pick
among keys you already trust, never to build a URL or a key.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from asgi_jwt import KeysUnavailable, PublicKey, TokenVerifier, UnknownKey, VerificationKey


class VaultKeys:
    """Public keys by kid, read from a secrets store once and then kept in memory."""

    def __init__(self, vault: Any, path: str) -> None:
        self._vault = vault
        self._path = path
        self._keys: dict[str, Sequence[VerificationKey]] = {}

    async def resolve(self, header: Mapping[str, Any]) -> Sequence[VerificationKey]:
        if not self._keys:
            try:
                pems = await self._vault.read(self._path)  # {"kid": "-----BEGIN PUBLIC KEY-----..."}
            except OSError as exc:
                raise KeysUnavailable() from exc  # an outage: 503 with Retry-After, not 401
            self._keys = {kid: PublicKey(pem, kid=kid).verification_keys for kid, pem in pems.items()}
        keys = self._keys.get(header.get("kid", ""))
        if keys is None:
            raise UnknownKey()  # 401 invalid_token
        return keys


def build_verifier(vault: Any) -> TokenVerifier:
    return TokenVerifier(VaultKeys(vault, "secret/jwt-keys"), issuer="https://auth.example.com", audience="orders-api")
