"""Key types and resolvers: every key pinned to one algorithm, every bad key refused at construction."""

from __future__ import annotations

import base64
import datetime
import functools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from asgi_jwt import (
    ConfigurationError,
    JWKSet,
    KeyPair,
    KeyResolver,
    MalformedToken,
    PublicKey,
    RotatingKeys,
    SecretKey,
    TokenVerifier,
    UnknownKey,
    VerificationKey,
    VersionedKeyResolver,
    jwk_thumbprint,
)

SECRET32 = "k" * 32
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

# RFC 7638 §3.1: the example RSA key and its SHA-256 thumbprint.
RFC7638_JWK = {
    "kty": "RSA",
    "n": (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknj"
        "hMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qM"
        "QvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJ"
        "zKnqDKgw"
    ),
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

VECTORS = Path(__file__).parent / "vectors" / "wycheproof"


def wycheproof_public_jwk(group_comment: str) -> dict[str, Any]:
    """The public JWK of a Wycheproof json_web_key_test.json group (see tests/vectors)."""
    data = json.loads((VECTORS / "json_web_key_test.json").read_text())
    (group,) = [group for group in data["testGroups"] if group["comment"] == group_comment]
    (jwk,) = group["public"]["keys"]
    return dict(jwk)


def _pem_private(key: Any) -> bytes:
    return bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def _pem_public(key: Any) -> bytes:
    return bytes(key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


@functools.cache
def private_key(kind: str) -> Any:
    """One key per kind for the whole run: RSA generation is the slow part of this file."""
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "rsa1024":
        return rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (must be refused)
    if kind == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "p384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind == "p521":
        return ec.generate_private_key(ec.SECP521R1())
    if kind == "secp256k1":
        return ec.generate_private_key(ec.SECP256K1())
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if kind == "ed448":
        return ed448.Ed448PrivateKey.generate()
    raise AssertionError(kind)


def public_pem(kind: str) -> bytes:
    return _pem_public(private_key(kind).public_key())


def private_pem(kind: str) -> bytes:
    return _pem_private(private_key(kind))


def claims() -> dict[str, Any]:
    return {"sub": "alice", "exp": int(time.time()) + 300}


async def verify(keys: KeyResolver, token: str) -> Mapping[str, Any]:
    return await TokenVerifier(keys).verify(token)


# ---------------------------------------------------------------------------------------------- SecretKey


@pytest.mark.parametrize(("algorithm", "minimum"), [("HS256", 32), ("HS384", 48), ("HS512", 64)])
@pytest.mark.parametrize("as_bytes", [False, True], ids=["str", "bytes"])
def test_secret_key_minimum_length(algorithm: str, minimum: int, as_bytes: bool) -> None:
    def secret(length: int) -> str | bytes:
        value = "s" * length
        return value.encode() if as_bytes else value

    key = SecretKey(secret(minimum), algorithm=algorithm)
    assert key.algorithm == algorithm
    with pytest.raises(ConfigurationError) as caught:
        SecretKey(secret(minimum - 1), algorithm=algorithm)
    message = str(caught.value)
    assert f"an {algorithm} secret needs at least {minimum} bytes" in message
    assert f"this one has {minimum - 1}" in message
    assert "RFC 7518" in message
    assert "s" * 8 not in message  # the secret itself is never echoed


def test_secret_key_counts_utf8_bytes_not_characters() -> None:
    SecretKey("é" * 16)  # 16 characters, 32 bytes
    with pytest.raises(ConfigurationError, match="this one has 30"):
        SecretKey("é" * 15)


def _ssh_line(kind: str) -> str:
    public = private_key(kind).public_key()
    return public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


@pytest.mark.parametrize(
    "material",
    [
        pytest.param(lambda: public_pem("rsa").decode(), id="pem-public-str"),
        pytest.param(lambda: public_pem("p256"), id="pem-public-bytes"),
        pytest.param(lambda: private_pem("ed25519").decode(), id="pem-private"),
        pytest.param(lambda: "\n  " + public_pem("rsa").decode(), id="pem-leading-whitespace"),
        pytest.param(lambda: json.dumps(RFC7638_JWK), id="jwk-json"),
        pytest.param(lambda: json.dumps({"kty": "oct", "k": "A" * 43}).encode(), id="jwk-json-bytes"),
        pytest.param(lambda: _ssh_line("rsa"), id="ssh-rsa"),
        pytest.param(lambda: _ssh_line("ed25519"), id="ssh-ed25519"),
        pytest.param(lambda: _ssh_line("p256"), id="ssh-ecdsa"),
    ],
)
def test_secret_key_refuses_key_material(material: Callable[[], str | bytes]) -> None:
    with pytest.raises(ConfigurationError) as caught:
        SecretKey(material())
    assert str(caught.value) == "the secret looks like a PEM or JWK key; use PublicKey or KeyPair for asymmetric keys"


def test_secret_key_accepts_json_that_is_not_a_jwk() -> None:
    assert SecretKey(json.dumps({"password": "p" * 40})).algorithm == "HS256"


@pytest.mark.parametrize("algorithm", ["RS256", "none", "hs256", "HS1024", ""])
def test_secret_key_refuses_other_algorithms(algorithm: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        SecretKey(SECRET32, algorithm=algorithm)
    assert str(caught.value) == f"SecretKey supports HS256, HS384 and HS512, not {algorithm!r}"


def test_secret_key_never_shows_the_secret() -> None:
    secret = "do-not-print-me-" * 4
    key = SecretKey(secret, algorithm="HS512", kid="k1")
    assert repr(key) == "SecretKey(algorithm='HS512', kid='k1')"
    assert secret not in str(key)
    assert secret not in repr(key.verification_keys)
    assert secret not in repr(RotatingKeys(key))
    assert secret not in repr(TokenVerifier(key))


@pytest.mark.parametrize("algorithm", ["HS256", "HS384", "HS512"])
async def test_secret_key_signs_and_verifies(algorithm: str) -> None:
    key = SecretKey("s" * 64, algorithm=algorithm, kid="2024-01")
    token = key.encode(claims(), headers={"typ": "at+jwt"})
    header = jwt.get_unverified_header(token)
    assert header == {"alg": algorithm, "typ": "at+jwt", "kid": "2024-01"}
    assert (await verify(key, token))["sub"] == "alice"
    (only,) = await key.resolve(header)
    assert (only.algorithm, only.kid) == (algorithm, "2024-01")


def test_secret_key_default_header_is_typ_jwt_without_kid() -> None:
    token = SecretKey(SECRET32).encode(claims())
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}


# ---------------------------------------------------------------------------------------------- PublicKey / KeyPair

# key kind, requested algorithm, pinned algorithm
ASYMMETRIC = [
    ("rsa", None, "RS256"),
    ("rsa", "RS384", "RS384"),
    ("rsa", "RS512", "RS512"),
    ("rsa", "PS256", "PS256"),
    ("rsa", "PS384", "PS384"),
    ("rsa", "PS512", "PS512"),
    ("p256", None, "ES256"),
    ("p384", None, "ES384"),
    ("p521", None, "ES512"),
    ("p256", "ES256", "ES256"),
    ("ed25519", None, "EdDSA"),
    ("ed448", None, "EdDSA"),
]


@pytest.mark.parametrize(("kind", "requested", "pinned"), ASYMMETRIC)
async def test_public_key_and_key_pair_pin_the_algorithm(kind: str, requested: str | None, pinned: str) -> None:
    pair = KeyPair(private_pem(kind), algorithm=requested, kid="k")
    public = PublicKey(public_pem(kind), algorithm=requested)
    assert pair.algorithm == public.algorithm == pinned
    assert [key.algorithm for key in public.verification_keys] == [pinned]
    assert [key.algorithm for key in pair.verification_keys] == [pinned]
    token = pair.encode(claims())
    assert jwt.get_unverified_header(token)["alg"] == pinned
    assert (await verify(public, token))["sub"] == "alice"
    assert (await verify(pair, token))["sub"] == "alice"
    assert repr(public) == f"PublicKey(algorithm={pinned!r}, kid=None)"
    assert repr(pair) == f"KeyPair(algorithm={pinned!r}, kid='k')"


@pytest.mark.parametrize("loader", [PublicKey, KeyPair])
def test_rsa_keys_under_2048_bits_are_refused(loader: type[PublicKey] | type[KeyPair]) -> None:
    pem = public_pem("rsa1024") if loader is PublicKey else private_pem("rsa1024")
    with pytest.raises(ConfigurationError) as caught:
        loader(pem)
    assert str(caught.value) == "RSA keys need at least 2048 bits, this one has 1024"


@pytest.mark.parametrize(
    ("kind", "algorithm", "message"),
    [
        ("p256", "ES384", "an EC key on secp256r1 cannot be used with 'ES384'"),
        ("p384", "ES256", "an EC key on secp384r1 cannot be used with 'ES256'"),
        ("p521", "ES384", "an EC key on secp521r1 cannot be used with 'ES384'"),
        ("p256", "RS256", "an EC key on secp256r1 cannot be used with 'RS256'"),
        ("rsa", "HS256", "an RSA key cannot be used with 'HS256'"),
        ("rsa", "ES256", "an RSA key cannot be used with 'ES256'"),
        ("rsa", "EdDSA", "an RSA key cannot be used with 'EdDSA'"),
        ("rsa", "none", "unsupported algorithm 'none'"),
        ("ed25519", "ES256", "an EdDSA key cannot be used with 'ES256'"),
        ("ed448", "HS512", "an EdDSA key cannot be used with 'HS512'"),
    ],
)
def test_mismatched_algorithm_is_refused(kind: str, algorithm: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        PublicKey(public_pem(kind), algorithm=algorithm)
    assert str(caught.value) == message
    with pytest.raises(ConfigurationError):
        KeyPair(private_pem(kind), algorithm=algorithm)


def test_unsupported_curve_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="unsupported elliptic curve 'secp256k1'"):
        PublicKey(public_pem("secp256k1"))


def test_roca_rsa_key_is_refused() -> None:
    """Wycheproof jws_rsa_roca_key: a factorable key must never verify anything (CVE-2017-15361)."""
    jwk = wycheproof_public_jwk("jws_rsa_roca_key")
    with pytest.raises(ConfigurationError) as caught:
        PublicKey.from_jwk(jwk)
    assert str(caught.value) == "this RSA key has the ROCA weakness (CVE-2017-15361) and can be factored; replace it"
    modulus = int.from_bytes(base64.urlsafe_b64decode(jwk["n"] + "=" * (-len(jwk["n"]) % 4)), "big")
    with pytest.raises(ConfigurationError, match="ROCA"):
        PublicKey.from_key(rsa.RSAPublicNumbers(65537, modulus).public_key())


def test_ordinary_rsa_keys_are_not_mistaken_for_roca() -> None:
    for _ in range(3):
        PublicKey.from_key(rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key())
    PublicKey.from_jwk(RFC7638_JWK)


@pytest.mark.parametrize(
    ("pem", "message"),
    [
        (b"", "not a PEM public key or certificate"),
        (b"not a key at all", "not a PEM public key or certificate"),
        (b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "not a PEM public key or certificate"),
        (
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "not a PEM public key or certificate",
        ),
    ],
)
def test_public_key_refuses_garbage(pem: bytes, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        PublicKey(pem)
    assert str(caught.value) == message


@pytest.mark.parametrize("kind", ["rsa", "p256", "ed25519"])
def test_private_pem_given_to_public_key_is_refused(kind: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        PublicKey(private_pem(kind))
    assert str(caught.value) == "PublicKey got a private key; use KeyPair to sign, or pass the public half"


@pytest.mark.parametrize("kind", ["rsa", "p256", "ed25519"])
def test_public_pem_given_to_key_pair_is_refused(kind: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        KeyPair(public_pem(kind))
    assert str(caught.value) == "KeyPair needs a PEM private key; use PublicKey for a public key"


def test_key_pair_refuses_a_broken_private_pem() -> None:
    broken = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
    with pytest.raises(ConfigurationError, match="not a usable PEM private key"):
        KeyPair(broken)


async def test_key_pair_with_password() -> None:
    pair = KeyPair.generate("ES256")
    encrypted = pair.private_pem(password=b"correct horse")
    assert b"ENCRYPTED PRIVATE KEY" in encrypted
    reloaded = KeyPair(encrypted, password=b"correct horse")
    assert (await verify(pair, reloaded.encode(claims())))["sub"] == "alice"
    with pytest.raises(ConfigurationError, match="wrong password"):
        KeyPair(encrypted, password=b"wrong")
    with pytest.raises(ConfigurationError):
        KeyPair(encrypted)


def _self_signed_certificate(kind: str) -> bytes:
    key = private_key(kind)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "auth.example.com")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, None if kind == "ed25519" else hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


@pytest.mark.parametrize(("kind", "pinned"), [("rsa", "RS256"), ("p256", "ES256"), ("ed25519", "EdDSA")])
async def test_certificate_pem_is_accepted(kind: str, pinned: str) -> None:
    public = PublicKey(_self_signed_certificate(kind))
    assert public.algorithm == pinned
    token = KeyPair(private_pem(kind)).encode(claims())
    assert (await verify(public, token))["sub"] == "alice"


async def test_from_file(tmp_path: Path) -> None:
    (tmp_path / "public.pem").write_bytes(public_pem("p384"))
    (tmp_path / "private.pem").write_bytes(private_pem("p384"))
    public = PublicKey.from_file(tmp_path / "public.pem", kid="p384")
    pair = KeyPair.from_file(str(tmp_path / "private.pem"), kid="p384")
    assert public.algorithm == pair.algorithm == "ES384"
    assert public.kid == pair.kid == "p384"
    assert (await verify(public, pair.encode(claims())))["sub"] == "alice"


@pytest.mark.parametrize("loader", [PublicKey.from_file, KeyPair.from_file])
def test_from_file_missing(loader: Callable[[Path], Any], tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(ConfigurationError) as caught:
        loader(missing)
    assert str(caught.value) == f"cannot read key file {str(missing)!r}: No such file or directory"


def test_from_file_on_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read key file"):
        PublicKey.from_file(tmp_path)


# ---------------------------------------------------------------------------------------------- JWK


def test_from_jwk_takes_alg_and_kid_from_the_jwk() -> None:
    key = PublicKey.from_jwk(RFC7638_JWK)
    assert (key.algorithm, key.kid) == ("RS256", "2011-04-29")
    ps = PublicKey.from_jwk({**RFC7638_JWK, "alg": "PS256"})
    assert ps.algorithm == "PS256"
    renamed = PublicKey.from_jwk(RFC7638_JWK, kid="mine")
    assert renamed.kid == "mine"
    no_alg = {name: value for name, value in RFC7638_JWK.items() if name != "alg"}
    assert PublicKey.from_jwk(no_alg, algorithm="RS512").algorithm == "RS512"
    assert PublicKey.from_jwk(no_alg).algorithm == "RS256"


def test_from_jwk_refuses_a_conflicting_algorithm() -> None:
    with pytest.raises(ConfigurationError) as caught:
        PublicKey.from_jwk(RFC7638_JWK, algorithm="PS256")
    assert str(caught.value) == "the JWK says alg 'RS256' but 'PS256' was requested"


@pytest.mark.parametrize("kind", ["rsa", "p256", "ed25519"])
def test_from_jwk_refuses_private_members(kind: str) -> None:
    algorithm = {"rsa": RSAAlgorithm, "p256": ECAlgorithm, "ed25519": OKPAlgorithm}[kind]
    private_jwk = algorithm.to_jwk(private_key(kind), as_dict=True)
    assert "d" in private_jwk
    with pytest.raises(ConfigurationError) as caught:
        PublicKey.from_jwk(private_jwk)
    assert str(caught.value) == "PublicKey.from_jwk got private or symmetric key material"


@pytest.mark.parametrize("member", sorted(PRIVATE_MEMBERS))
def test_from_jwk_refuses_each_private_member_a_jwk_set_refuses(member: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        PublicKey.from_jwk({**RFC7638_JWK, member: "c2VjcmV0"})
    assert str(caught.value) == "PublicKey.from_jwk got private or symmetric key material"
    with pytest.raises(ConfigurationError) as refused:
        JWKSet({"keys": [{**RFC7638_JWK, "kid": "k1", member: "c2VjcmV0"}]})
    assert f"(member {member!r} of key 'k1')" in str(refused.value)


@pytest.mark.parametrize(
    ("jwk", "message"),
    [
        ({"kty": "oct", "k": "AAAA"}, "PublicKey.from_jwk got private or symmetric key material"),
        ({}, "unsupported JWK key type None"),
        ({"kty": "oct"}, "unsupported JWK key type 'oct'"),
        ({"kty": ["RSA"]}, "unsupported JWK key type ['RSA']"),
        ({"kty": "RSA"}, "the JWK is not a valid public key"),
        ({"kty": "RSA", "n": "!!!", "e": "AQAB"}, "the JWK is not a valid public key"),
        ({"kty": "RSA", "n": 12, "e": "AQAB"}, "the JWK is not a valid public key"),
        ({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}, "the JWK is not a valid public key"),
        ({"kty": "EC", "crv": "P-999", "x": "AAAA", "y": "AAAA"}, "the JWK is not a valid public key"),
        ({"kty": "OKP", "crv": "X25519", "x": "A" * 43}, "the JWK is not a valid public key"),
        ({**RFC7638_JWK, "kid": 7}, "the JWK 'kid' must be a string"),
        ({**RFC7638_JWK, "alg": "HS256"}, "an RSA key cannot be used with 'HS256'"),
        ({**RFC7638_JWK, "use": "enc"}, "the JWK is for use 'enc', not signatures ('sig')"),
        ({**RFC7638_JWK, "key_ops": ["encrypt"]}, "the JWK's key_ops do not include 'verify'"),
        ({**RFC7638_JWK, "key_ops": "verify"}, "the JWK's key_ops do not include 'verify'"),
    ],
)
def test_from_jwk_refuses_garbage(jwk: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        PublicKey.from_jwk(jwk)
    assert str(caught.value) == message


def test_from_jwk_refuses_a_non_mapping() -> None:
    with pytest.raises(ConfigurationError, match="a JWK must be a JSON object"):
        PublicKey.from_jwk(json.dumps(RFC7638_JWK))  # type: ignore[arg-type]


def test_from_jwk_accepts_signature_use_and_verify_ops() -> None:
    assert PublicKey.from_jwk({**RFC7638_JWK, "use": "sig"}).algorithm == "RS256"
    assert PublicKey.from_jwk({**RFC7638_JWK, "key_ops": ["verify"]}).algorithm == "RS256"


GENERATED = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
GENERATED += ["EdDSA", "Ed25519", "Ed448"]


@pytest.mark.parametrize("algorithm", GENERATED)
async def test_generate(algorithm: str) -> None:
    pair = KeyPair.generate(algorithm)
    assert pair.algorithm == algorithm
    jwk = pair.to_jwk()
    assert PRIVATE_MEMBERS.isdisjoint(jwk)
    assert jwk["alg"] == algorithm
    assert jwk["use"] == "sig"
    assert pair.kid == jwk["kid"] == jwk_thumbprint(jwk)
    token = pair.encode(claims())
    assert jwt.get_unverified_header(token) == {"alg": algorithm, "typ": "JWT", "kid": pair.kid}
    # What a JWKS endpoint publishes is enough to verify.
    published = PublicKey.from_jwk(json.loads(json.dumps(jwk)))
    assert (published.algorithm, published.kid) == (algorithm, pair.kid)
    assert (await verify(published, token))["sub"] == "alice"
    assert (await verify(PublicKey(pair.public_pem(), algorithm=algorithm), token))["sub"] == "alice"
    assert (await verify(KeyPair(pair.private_pem(), algorithm=algorithm), token))["sub"] == "alice"


def test_generate_gives_distinct_keys() -> None:
    assert KeyPair.generate("EdDSA").kid != KeyPair.generate("EdDSA").kid
    assert KeyPair.generate("ES256", kid="chosen").kid == "chosen"


@pytest.mark.parametrize("algorithm", ["HS256", "none", "rs256", "ES521"])
def test_generate_refuses_unknown_algorithms(algorithm: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        KeyPair.generate(algorithm)
    assert str(caught.value) == f"KeyPair cannot generate keys for {algorithm!r}"


def test_to_jwk_kid() -> None:
    public = PublicKey(public_pem("p256"))
    jwk = public.to_jwk()
    assert jwk["kid"] == jwk_thumbprint(jwk)
    assert set(jwk) == {"kty", "crv", "x", "y", "alg", "use", "kid"}
    assert PublicKey(public_pem("p256"), kid="named").to_jwk()["kid"] == "named"
    okp = PublicKey(public_pem("ed448")).to_jwk()
    assert (okp["kty"], okp["crv"]) == ("OKP", "Ed448")


def test_jwk_thumbprint_rfc7638_example() -> None:
    assert jwk_thumbprint(RFC7638_JWK) == RFC7638_THUMBPRINT
    # Only the required members count (RFC 7638 §3.2): extra ones change nothing.
    assert jwk_thumbprint({**RFC7638_JWK, "use": "sig", "x5t": "abc"}) == RFC7638_THUMBPRINT
    assert PublicKey.from_jwk({k: v for k, v in RFC7638_JWK.items() if k != "kid"}).to_jwk()["kid"] == (
        RFC7638_THUMBPRINT
    )


@pytest.mark.parametrize("jwk", [{}, {"kty": "oct", "k": "AAAA"}, {"kty": "RSA", "n": "AAAA"}, {"kty": ["RSA"]}])
def test_jwk_thumbprint_refuses_non_public_jwks(jwk: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match="cannot compute a thumbprint"):
        jwk_thumbprint(jwk)


# ---------------------------------------------------------------------------------------------- VerificationKey


def test_verification_key_checks_the_key_fits() -> None:
    with pytest.raises(ConfigurationError, match="HS256 needs a secret"):
        VerificationKey("HS256", private_key("rsa").public_key())
    with pytest.raises(ConfigurationError, match="RS256 needs a public key"):
        VerificationKey("RS256", b"s" * 32)
    with pytest.raises(ConfigurationError, match="unsupported algorithm 'XS256'"):
        VerificationKey("XS256", private_key("rsa").public_key())
    with pytest.raises(ConfigurationError, match="cannot be used with 'ES384'"):
        VerificationKey("ES384", private_key("p256").public_key())


def test_verification_key_verify_returns_a_bool() -> None:
    key = VerificationKey("HS256", b"s" * 32, kid="a")
    assert repr(key) == "VerificationKey(algorithm='HS256', kid='a')"
    token = SecretKey(b"s" * 32).encode(claims())
    header, payload, signature = token.split(".")
    raw = base64.urlsafe_b64decode(signature + "=")
    assert key.verify(f"{header}.{payload}".encode(), raw) is True
    assert key.verify(f"{header}.{payload}x".encode(), raw) is False


# ---------------------------------------------------------------------------------------------- RotatingKeys


async def test_rotating_keys_selection() -> None:
    current = SecretKey("c" * 32, kid="2025")
    previous = SecretKey("p" * 32, kid="2024")
    unnamed = SecretKey("u" * 32)
    keys = RotatingKeys(current, previous, unnamed)
    assert [key.kid for key in keys.verification_keys] == ["2025", "2024", None]
    # No kid: current first, then the previous ones in order.
    assert [key.kid for key in await keys.resolve({"alg": "HS256"})] == ["2025", "2024", None]
    # A kid that names a key: that key only.
    assert [key.kid for key in await keys.resolve({"alg": "HS256", "kid": "2024"})] == ["2024"]
    # A kid that names nothing: only the keys without a kid.
    assert [key.kid for key in await keys.resolve({"alg": "HS256", "kid": "1999"})] == [None]


async def test_rotating_keys_unknown_kid() -> None:
    keys = RotatingKeys(SecretKey("c" * 32, kid="2025"), SecretKey("p" * 32, kid="2024"))
    with pytest.raises(UnknownKey) as caught:
        await keys.resolve({"alg": "HS256", "kid": "1999"})
    assert caught.value.status_code == 401
    assert caught.value.error == "invalid_token"
    assert caught.value.description == "Token signing key is not recognised"


@pytest.mark.parametrize("kid", [7, 1.5, True, ["2025"], {"kid": "2025"}])
async def test_non_string_kid_is_malformed(kid: Any) -> None:
    keys = RotatingKeys(SecretKey("c" * 32, kid="2025"))
    with pytest.raises(MalformedToken) as caught:
        await keys.resolve({"alg": "HS256", "kid": kid})
    assert caught.value.description == "Malformed token"


def test_rotating_keys_refuse_duplicate_kids() -> None:
    with pytest.raises(ConfigurationError) as caught:
        RotatingKeys(SecretKey("a" * 32, kid="same"), KeyPair.generate("ES256", kid="same"))
    assert str(caught.value) == "RotatingKeys: several keys share the kid 'same'"


def test_rotating_keys_encode_with_the_current_key() -> None:
    current = KeyPair.generate("ES256")
    previous = SecretKey("p" * 32, kid="old")
    keys = RotatingKeys(current, previous)
    assert keys.algorithm == "ES256"
    header = jwt.get_unverified_header(keys.encode(claims()))
    assert (header["alg"], header["kid"]) == ("ES256", current.kid)
    assert repr(keys) == f"RotatingKeys({current!r}, {previous!r})"


def test_rotating_keys_cannot_sign_with_a_public_key() -> None:
    keys = RotatingKeys(PublicKey(public_pem("p256")), SecretKey("p" * 32))
    with pytest.raises(ConfigurationError, match="the current key is a PublicKey, which cannot sign"):
        keys.encode(claims())


async def test_rotating_keys_can_migrate_from_hmac_to_rsa() -> None:
    """Moving from a shared secret to a key pair is a rotation: both verify, each with its own algorithm."""
    old = SecretKey("p" * 32)
    new = KeyPair(private_pem("rsa"))
    keys = RotatingKeys(new, old)
    assert (await verify(keys, old.encode(claims())))["sub"] == "alice"
    assert (await verify(keys, new.encode(claims())))["sub"] == "alice"


# ---------------------------------------------------------------------------------------------- protocols


class DictResolver:
    """A resolver that inherits from nothing of ours."""

    def __init__(self, keys: dict[str, VerificationKey]) -> None:
        self.keys = keys
        self.version = 1

    async def resolve(self, header: Mapping[str, Any]) -> Sequence[VerificationKey]:
        return [self.keys[header["kid"]]]


def test_key_types_satisfy_the_protocols() -> None:
    for resolver in (
        SecretKey(SECRET32),
        PublicKey(public_pem("p256")),
        KeyPair(private_pem("ed25519")),
        RotatingKeys(SecretKey(SECRET32)),
        DictResolver({}),
    ):
        assert isinstance(resolver, KeyResolver)
        assert isinstance(resolver, VersionedKeyResolver)
        assert resolver.version in (0, 1)
    assert not isinstance(object(), KeyResolver)
