"""RSA keys and RS256 JSON Web Tokens in plain Python, for the emulator's OAuth endpoint.

The virtualenv has neither `cryptography` nor `google-auth` nor PyJWT, so the few pieces
the service-account flow needs are written here against their specifications:

- key generation (Miller-Rabin primes, e = 65537) and the PKCS#8 PEM that Google puts in
  a service-account key file's `private_key` (RFC 5208 around RFC 8017's RSAPrivateKey);
- RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 §8.2), which JWT calls RS256 (RFC 7518 §3.3);
- the compact JWT form (RFC 7519): base64url(header).base64url(claims).base64url(sig).

`sign_jwt` is what a client library (google-auth) does with the key file; `verify_jwt` is
what Google's token endpoint does with the assertion. Test equipment only: the signing is
not constant-time and the keys are not meant to protect anything.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import math
import secrets
from dataclasses import dataclass
from typing import Any

#: DER DigestInfo prefix for SHA-256 (RFC 8017 §9.2, note 1).
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
_RSA_ENCRYPTION_OID = bytes.fromhex("2a864886f70d010101")  # 1.2.840.113549.1.1.1
_SMALL_PRIMES = [p for p in range(3, 2000) if all(p % d for d in range(2, math.isqrt(p) + 1))]


class InvalidToken(ValueError):
    """A JWT that is malformed or whose signature does not verify."""


@dataclass(frozen=True)
class PublicKey:
    n: int
    e: int


@dataclass(frozen=True)
class PrivateKey:
    n: int
    e: int
    d: int
    p: int
    q: int

    @property
    def public(self) -> PublicKey:
        return PublicKey(self.n, self.e)

    def pem(self) -> str:
        """PKCS#8 `-----BEGIN PRIVATE KEY-----`, as in a Google service-account key file."""
        rsa_key = _sequence(
            _integer(0),
            *(_integer(v) for v in (self.n, self.e, self.d, self.p, self.q)),
            _integer(self.d % (self.p - 1)),
            _integer(self.d % (self.q - 1)),
            _integer(pow(self.q, -1, self.p)),
        )
        algorithm = _sequence(_tlv(0x06, _RSA_ENCRYPTION_OID), _tlv(0x05, b""))
        der = _sequence(_integer(0), algorithm, _tlv(0x04, rsa_key))
        body = base64.encodebytes(der).decode().replace("\n", "")
        lines = [body[i : i + 64] for i in range(0, len(body), 64)]
        return "-----BEGIN PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END PRIVATE KEY-----\n"


@functools.cache
def shared_private_key() -> PrivateKey:
    """One RSA-2048 key per test process: generating one in plain Python takes a moment."""
    return generate_private_key()


def generate_private_key(bits: int = 2048) -> PrivateKey:
    e = 65537
    while True:
        p, q = _prime(bits // 2), _prime(bits // 2)
        if p == q or math.gcd(e, (p - 1) * (q - 1)) != 1:
            continue
        n = p * q
        if n.bit_length() == bits:
            d = pow(e, -1, (p - 1) * (q - 1) // math.gcd(p - 1, q - 1))
            return PrivateKey(n=n, e=e, d=d, p=p, q=q)


def load_private_key(pem: str) -> PrivateKey:
    """Read the PKCS#8 PEM written by `PrivateKey.pem` (enough for a key-file round trip)."""
    body = "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))
    outer = _read_sequence(base64.b64decode(body))
    rsa_key = _read_tlv(outer[2], 0x04)
    version, n, e, d, p, q, *_ = (_read_integer(part) for part in _read_sequence(rsa_key))
    if version != 0:
        raise ValueError("unsupported RSAPrivateKey version")
    return PrivateKey(n=n, e=e, d=d, p=p, q=q)


def sign_jwt(key: PrivateKey, claims: dict[str, Any], key_id: str | None = None) -> str:
    header: dict[str, Any] = {"alg": "RS256", "typ": "JWT"}
    if key_id:
        header["kid"] = key_id
    signing_input = f"{_b64(_json(header))}.{_b64(_json(claims))}".encode()
    signature = _sign(key, signing_input)
    return f"{signing_input.decode()}.{_b64(signature)}"


def verify_jwt(key: PublicKey, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (header, claims) of an RS256 JWT signed with `key`, or raise InvalidToken."""
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("a JWT has three dot-separated parts")
    try:
        header = json.loads(_unb64(parts[0]))
        claims = json.loads(_unb64(parts[1]))
        signature = _unb64(parts[2])
    except ValueError as exc:
        raise InvalidToken(f"undecodable JWT: {exc}") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise InvalidToken("JWT header and claims must be JSON objects")
    if header.get("alg") != "RS256":
        raise InvalidToken(f"unsupported JWT algorithm {header.get('alg')!r}")
    if not _verify(key, f"{parts[0]}.{parts[1]}".encode(), signature):
        raise InvalidToken("Invalid JWT Signature.")
    return header, claims


def _sign(key: PrivateKey, message: bytes) -> bytes:
    """RSASP1 with the Chinese remainder theorem (RFC 8017 §5.2.1, case b)."""
    size = (key.n.bit_length() + 7) // 8
    m = int.from_bytes(_emsa_pkcs1_v15(message, size), "big")
    s1 = pow(m, key.d % (key.p - 1), key.p)
    s2 = pow(m, key.d % (key.q - 1), key.q)
    h = (pow(key.q, -1, key.p) * (s1 - s2)) % key.p
    return (s2 + key.q * h).to_bytes(size, "big")


def _verify(key: PublicKey, message: bytes, signature: bytes) -> bool:
    size = (key.n.bit_length() + 7) // 8
    if len(signature) != size:
        return False
    value = int.from_bytes(signature, "big")
    if value >= key.n:
        return False
    encoded = pow(value, key.e, key.n).to_bytes(size, "big")
    return secrets.compare_digest(encoded, _emsa_pkcs1_v15(message, size))


def _emsa_pkcs1_v15(message: bytes, size: int) -> bytes:
    digest_info = _SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    padding = b"\xff" * (size - len(digest_info) - 3)
    return b"\x00\x01" + padding + b"\x00" + digest_info


def _prime(bits: int) -> int:
    while True:
        candidate = secrets.randbits(bits) | (0b11 << (bits - 2)) | 1
        if all(candidate % p for p in _SMALL_PRIMES) and _probably_prime(candidate):
            return candidate


def _probably_prime(n: int, rounds: int = 40) -> bool:
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for _ in range(rounds):
        x = pow(secrets.randbelow(n - 3) + 2, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise InvalidToken("bad base64url") from exc


# DER, just the types PKCS#8 needs (X.690 §8).


def _tlv(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    size = (length.bit_length() + 7) // 8
    return bytes([tag, 0x80 | size]) + length.to_bytes(size, "big") + content


def _integer(value: int) -> bytes:
    return _tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _sequence(*parts: bytes) -> bytes:
    return _tlv(0x30, b"".join(parts))


def _split_tlv(data: bytes) -> tuple[int, bytes, bytes]:
    tag, length, offset = data[0], data[1], 2
    if length & 0x80:
        size = length & 0x7F
        length, offset = int.from_bytes(data[2 : 2 + size], "big"), 2 + size
    return tag, data[offset : offset + length], data[offset + length :]


def _read_tlv(data: bytes, tag: int) -> bytes:
    found, content, _ = _split_tlv(data)
    if found != tag:
        raise ValueError(f"DER tag {found:#x} where {tag:#x} was expected")
    return content


def _read_sequence(data: bytes) -> list[bytes]:
    content, parts = _read_tlv(data, 0x30), []
    while content:
        _, _, rest = _split_tlv(content)
        parts.append(content[: len(content) - len(rest)])
        content = rest
    return parts


def _read_integer(data: bytes) -> int:
    return int.from_bytes(_read_tlv(data, 0x02), "big", signed=True)
