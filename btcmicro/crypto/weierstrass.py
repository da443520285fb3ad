"""A small pure-Python short-Weierstrass group (y² = x³ + ax + b over F_p, prime order, p ≡ 3 mod 4).

**Reference only.** It exists so that the one generic ECVRF implementation in
:mod:`btcmicro.crypto.ecvrf` can be checked against RFC 9381's P-256 test vectors (coincurve is
secp256k1-only) and against itself on secp256k1. It is slow (affine double-and-add, a modular
inverse per step) and not constant-time in any sense; the schemes use the coincurve backend.

Points are affine ``(x, y)`` tuples, the point at infinity is ``None``, and encodings are 33-byte
SEC1 compressed.
"""
from __future__ import annotations

from dataclasses import dataclass

from btcmicro.core.errors import ProtocolError

__all__ = ["Curve", "AffinePoint", "WeierstrassGroup", "P256", "SECP256K1"]

AffinePoint = tuple[int, int]


@dataclass(frozen=True)
class Curve:
    """Domain parameters of a prime-order short-Weierstrass curve."""

    name: str
    p: int
    a: int
    b: int
    order: int
    gx: int
    gy: int


#: NIST P-256 (SEC 2 secp256r1).
P256 = Curve(
    name="P-256",
    p=0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF,
    a=0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFC,
    b=0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B,
    order=0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    gx=0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    gy=0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
)

#: secp256k1 (SEC 2), for checking the coincurve backend against this one.
SECP256K1 = Curve(
    name="secp256k1",
    p=0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F,
    a=0,
    b=7,
    order=0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141,
    gx=0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
    gy=0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8,
)


class WeierstrassGroup:
    """The group of a :class:`Curve`, with the operations :class:`btcmicro.crypto.ecvrf.Group` asks for."""

    def __init__(self, curve: Curve) -> None:
        if curve.p % 4 != 3:
            raise ValueError("only p ≡ 3 (mod 4) is supported (square roots by exponentiation)")
        self.curve = curve
        self.order = curve.order
        self.generator: AffinePoint = (curve.gx, curve.gy)
        if not self.is_on_curve(self.generator):
            raise ValueError(f"{curve.name}: generator not on the curve")

    def is_on_curve(self, point: AffinePoint) -> bool:
        c = self.curve
        x, y = point
        return 0 <= x < c.p and 0 <= y < c.p and (y * y - (x * x * x + c.a * x + c.b)) % c.p == 0

    def add(self, a: AffinePoint | None, b: AffinePoint | None) -> AffinePoint | None:
        if a is None:
            return b
        if b is None:
            return a
        p = self.curve.p
        (x1, y1), (x2, y2) = a, b
        if x1 == x2:
            if (y1 + y2) % p == 0:
                return None
            slope = (3 * x1 * x1 + self.curve.a) * pow(2 * y1, -1, p) % p
        else:
            slope = (y2 - y1) * pow(x2 - x1, -1, p) % p
        x3 = (slope * slope - x1 - x2) % p
        return x3, (slope * (x1 - x3) - y1) % p

    def neg(self, point: AffinePoint | None) -> AffinePoint | None:
        if point is None:
            return None
        return point[0], (-point[1]) % self.curve.p

    def mul(self, point: AffinePoint | None, scalar: int) -> AffinePoint | None:
        k = scalar % self.order
        result: AffinePoint | None = None
        addend = point
        while k and addend is not None:
            if k & 1:
                result = self.add(result, addend)
            addend = self.add(addend, addend)
            k >>= 1
        return result

    def base_mul(self, scalar: int) -> AffinePoint | None:
        return self.mul(self.generator, scalar)

    def base_mul_add(self, a: int, b: int, point: AffinePoint) -> AffinePoint | None:
        return self.add(self.base_mul(a), self.mul(point, b))

    def encode(self, point: AffinePoint) -> bytes:
        x, y = point
        return bytes([2 | (y & 1)]) + x.to_bytes(32, "big")

    def _decompress(self, prefix: int, x: int) -> AffinePoint | None:
        c = self.curve
        if x >= c.p:
            return None
        rhs = (x * x * x + c.a * x + c.b) % c.p
        y = pow(rhs, (c.p + 1) // 4, c.p)
        if y * y % c.p != rhs:
            return None
        if (y & 1) != (prefix & 1):
            y = c.p - y
        return x, y

    def decode(self, data: bytes) -> AffinePoint:
        if len(data) != 33 or data[0] not in (2, 3):
            raise ProtocolError("bad_point", f"{self.curve.name}: expected a 33-byte compressed point")
        point = self._decompress(data[0], int.from_bytes(data[1:], "big"))
        if point is None:
            raise ProtocolError("bad_point", f"{self.curve.name}: not a point on the curve")
        return point

    def lift_even(self, x: bytes) -> AffinePoint | None:
        return self._decompress(2, int.from_bytes(x, "big"))
