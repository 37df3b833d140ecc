"""Project Wycheproof JWS vectors against TokenVerifier (files and licence in tests/vectors/wycheproof).

Each vector is a compact JWS with the key that signed it. The payloads are arbitrary
bytes (``foo``, zeros, RFC 7520 prose), not JWT claim sets, so a verifier that
checks the signature and then reads the payload as JSON ends on ``MalformedToken``
for a perfectly signed vector. The tests therefore watch the signature check itself
(a recording resolver notes which key accepted it) and hold every vector to this:

- ``valid``: the key loads, a key pinned to the header's ``alg`` accepts the
  signature, and the only complaint left is the non-JSON payload;
- ``invalid``: the key is refused at configuration, or the token is rejected with an
  AuthError before any key accepted its signature (or, for a payload segment signed
  as sent but not canonical base64url, when that segment is decoded).

The few vectors where we knowingly differ are listed in ``DEVIATIONS`` with the
reason and the behaviour we guarantee instead; nothing is skipped.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from asgi_jwt import (
    AuthError,
    Claims,
    ConfigurationError,
    InvalidAlgorithm,
    KeyResolver,
    MalformedToken,
    PublicKey,
    RotatingKeys,
    SecretKey,
    TokenVerifier,
    VerificationKey,
)

VECTORS = Path(__file__).parent / "vectors" / "wycheproof"
FILES = {"json_web_signature_test.json": 401, "json_web_key_test.json": 26}


def b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@functools.cache
def load(name: str) -> dict[str, Any]:
    return json.loads((VECTORS / name).read_text())  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Case:
    file: str
    group: int
    tc_id: int
    comment: str
    result: str
    jws: str

    @property
    def id(self) -> str:
        return f"{self.file.split('_test')[0]}-{self.tc_id}-{self.comment}"


def cases() -> list[Case]:
    found = []
    for name in FILES:
        for index, group in enumerate(load(name)["testGroups"]):
            for test in group["tests"]:
                found.append(Case(name, index, int(test["tcId"]), test["comment"], test["result"], test["jws"]))
    return found


CASES = cases()


def test_every_vector_is_collected() -> None:
    """Guard against silently dropping vectors: each file's own count, and only known results."""
    for name, count in FILES.items():
        data = load(name)
        assert data["numberOfTests"] == count
        assert sum(case.file == name for case in CASES) == count
        assert {group["type"] for group in data["testGroups"]} <= {"JsonWebSignature", "JsonWebKey"}
    assert {case.result for case in CASES} == {"valid", "invalid"}


# ---------------------------------------------------------------------------------------------- keys


def jwk_to_keys(jwk: Mapping[str, Any]) -> SecretKey | PublicKey:
    """A Wycheproof JWK as one of our key types: oct keys are HMAC secrets, the rest public keys."""
    if jwk.get("kty") == "oct":
        return SecretKey(b64decode(jwk["k"]), algorithm=jwk.get("alg", "HS256"), kid=jwk.get("kid"))
    return PublicKey.from_jwk(jwk)


def group_keys(case: Case, fix: Mapping[str, Any] | None = None) -> KeyResolver:
    """The verification keys of a vector's group: its public JWK(s), or the oct secret.

    Groups of the key file hold JWK Sets; several keys become one RotatingKeys, the
    resolver that selects by ``kid``. ``fix`` overrides members of every JWK.
    """
    group = load(case.file)["testGroups"][case.group]
    source = group.get("public", group.get("private"))
    jwks = source.get("keys", [source])
    members = [jwk_to_keys({**jwk, **(fix or {})}) for jwk in jwks]
    return members[0] if len(members) == 1 else RotatingKeys(*members)


class RecordingKey(VerificationKey):
    """A verification key that remembers whether it ever accepted a signature."""

    __slots__ = ("accepted",)

    def __init__(self, key: VerificationKey) -> None:
        super().__init__(key.algorithm, key.key, key.kid)
        self.accepted = False

    def verify(self, signing_input: bytes, signature: bytes) -> bool:
        valid = super().verify(signing_input, signature)
        self.accepted = self.accepted or valid
        return valid


class RecordingResolver:
    def __init__(self, inner: KeyResolver) -> None:
        self.inner = inner
        self.keys: list[RecordingKey] = []

    async def resolve(self, header: Mapping[str, Any]) -> Sequence[VerificationKey]:
        keys = [RecordingKey(key) for key in await self.inner.resolve(header)]
        self.keys.extend(keys)
        return keys

    @property
    def accepted(self) -> bool:
        return any(key.accepted for key in self.keys)


@dataclass
class Outcome:
    key_refused: ConfigurationError | None = None
    signature_accepted: bool = False
    claims: Claims | None = None
    error: AuthError | None = None


async def evaluate(case: Case, fix: Mapping[str, Any] | None = None) -> Outcome:
    try:
        keys = group_keys(case, fix)
    except ConfigurationError as refused:
        return Outcome(key_refused=refused)
    recording = RecordingResolver(keys)
    # No required claim, issuer or audience: the payloads are not JWT claim sets.
    verifier = TokenVerifier(recording, require=())
    outcome = Outcome()
    try:
        outcome.claims = await verifier.verify(case.jws)
    except AuthError as error:  # anything else escapes and fails the test
        outcome.error = error
    outcome.signature_accepted = recording.accepted
    return outcome


def is_canonical_base64url(segment: str) -> bool:
    """Judged independently of the verifier: the alphabet, and the segment re-encodes to itself."""
    if re.fullmatch(r"[A-Za-z0-9_-]*", segment) is None or len(segment) % 4 == 1:
        return False
    return base64.urlsafe_b64encode(b64decode(segment)).rstrip(b"=").decode() == segment


def payload_is_a_json_object(jws: str) -> bool:
    try:
        return isinstance(json.loads(b64decode(jws.split(".")[1])), dict)
    except ValueError:
        return False


# ---------------------------------------------------------------------------------------------- deviations

# Where we knowingly answer differently from the vector: (file, tcId) -> (what we guarantee, why).
KEY_FILE, SIG_FILE = "json_web_key_test.json", "json_web_signature_test.json"
DEVIATIONS: dict[tuple[str, int], tuple[str, str]] = {
    (SIG_FILE, 346): (
        "alg_pinned_by_jwk",
        "RFC 7520 fig. 20 signs with PS384 but its JWK says alg PS256. We pin the key to the JWK's alg "
        "(RFC 7517 §4.4, RFC 8725 §3.1), so the token is refused; with alg PS384 in the JWK it verifies.",
    ),
    (SIG_FILE, 350): ("alg_pinned_by_jwk", "Same as 346, the JWK with key_ops."),
    (SIG_FILE, 347): (
        "es521_typo",
        "RFC 7520 fig. 27's JWK says alg 'ES521', which JWA does not define (P-521 goes with ES512, RFC 7518 "
        "§3.4); we refuse the key at configuration; with the alg spelt ES512 the token verifies.",
    ),
    (SIG_FILE, 351): ("es521_typo", "Same as 347, the JWK with key_ops."),
    (SIG_FILE, 372): (
        "strict_base64url",
        "A '?' inside the header segment: base64url has no such character (RFC 7515 §2) and we do not skip "
        "unknown characters, so the token is malformed.",
    ),
    (SIG_FILE, 373): (
        "strict_base64url",
        "A '?' inside the payload segment: the signature covers the segment as sent, so it does not verify.",
    ),
    (SIG_FILE, 367): (
        "identical_to_357",
        "Named invalidBase64Padding, but the file holds no padding: the JWS is character for character "
        "tcId 357 (ValidMac, valid). One string cannot be both; we follow 357 and accept the signature.",
    ),
    (SIG_FILE, 370): ("identical_to_357", "Same as 367 (invalidBase64PaddingInPayload)."),
    (KEY_FILE, 1): (
        "mixed_key_set",
        "An HMAC secret and an EC key in one set. Our keys are pinned to their algorithm, so mixing them is "
        "safe and is how a service migrates from HS256 to ES256 (RotatingKeys); the HS256 token verifies.",
    ),
}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_vector(case: Case) -> None:
    outcome = await evaluate(case)
    deviation = DEVIATIONS.get((case.file, case.tc_id))
    if deviation is not None:
        await check_deviation(case, outcome, deviation[0])
    elif case.result == "valid":
        assert outcome.key_refused is None, f"key refused: {outcome.key_refused}"
        assert outcome.signature_accepted, f"signature not accepted: {outcome.error!r}"
        if payload_is_a_json_object(case.jws):
            assert isinstance(outcome.claims, Claims)
        else:
            assert isinstance(outcome.error, MalformedToken)
    else:
        assert outcome.claims is None
        if outcome.key_refused is None:
            assert isinstance(outcome.error, AuthError)
            if outcome.signature_accepted:
                # Signed over a broken payload segment: the decoding after the signature must catch it.
                assert isinstance(outcome.error, MalformedToken)
                assert not is_canonical_base64url(case.jws.split(".")[1]), f"accepted signature, then {outcome.error!r}"


async def check_deviation(case: Case, outcome: Outcome, kind: str) -> None:
    assert outcome.claims is None
    if kind == "alg_pinned_by_jwk":
        assert isinstance(outcome.error, InvalidAlgorithm)
        fixed = await evaluate(case, fix={"alg": "PS384"})
        assert fixed.signature_accepted
    elif kind == "es521_typo":
        assert outcome.key_refused is not None
        assert str(outcome.key_refused) == "the JWK 'alg' 'ES521' is not a supported signature algorithm"
        fixed = await evaluate(case, fix={"alg": "ES512"})
        assert fixed.signature_accepted
    elif kind == "strict_base64url":
        assert isinstance(outcome.error, AuthError)
        assert not outcome.signature_accepted
    elif kind == "identical_to_357":
        (valid,) = [other for other in CASES if other.file == SIG_FILE and other.tc_id == 357]
        assert (valid.result, valid.jws) == ("valid", case.jws)
        assert outcome.signature_accepted
        assert isinstance(outcome.error, MalformedToken)  # the payload 'Test' is not a claim set
    elif kind == "mixed_key_set":
        assert outcome.key_refused is None
        assert outcome.signature_accepted
        assert isinstance(outcome.error, MalformedToken)  # the payload 'foo' is not a claim set
    else:
        raise AssertionError(kind)
