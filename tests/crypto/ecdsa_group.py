"""A reference group for the ECVRF and secp256k1 tests, on python-ecdsa's curve arithmetic.

coincurve is secp256k1 only, so RFC 9381's P-256 examples (Appendix B.1) need another library's P-256:
python-ecdsa's ``NIST256p``. Its ``SECP256k1`` also checks the coincurve backend against an independent
implementation. Points are affine ``(x, y)`` tuples, ``None`` is the point at infinity, and encodings are
33-byte SEC1 compressed: the :class:`btcmicro.crypto.ecvrf.Group` interface. Tests only; slow.
"""
from __future__ import annotations

import ecdsa
from ecdsa.ellipticcurve import INFINITY, PointJacobi
from ecdsa.errors import MalformedPointError

from btcmicro.core.errors import ProtocolError

AffinePoint = tuple[int, int]


class EcdsaGroup:
    """The group of one of python-ecdsa's curves, with the operations ECVRF asks for."""

    def __init__(self, curve: ecdsa.curves.Curve) -> None:
        self.curve = curve
        self.order: int = curve.order
        self._g: PointJacobi = curve.generator
        self.generator: AffinePoint = (self._g.x(), self._g.y())

    def _point(self, a: AffinePoint) -> PointJacobi:
        return PointJacobi(self.curve.curve, a[0], a[1], 1, self.order)

    def _affine(self, p: object) -> AffinePoint | None:
        if p == INFINITY:
            return None
        field = self.curve.curve.p()
        return p.x() % field, p.y() % field  # type: ignore[attr-defined]  # negation leaves y unreduced

    def add(self, a: AffinePoint | None, b: AffinePoint | None) -> AffinePoint | None:
        if a is None:
            return b
        if b is None:
            return a
        return self._affine(self._point(a) + self._point(b))

    def neg(self, point: AffinePoint | None) -> AffinePoint | None:
        return None if point is None else self._affine(-self._point(point))

    def mul(self, point: AffinePoint | None, scalar: int) -> AffinePoint | None:
        k = scalar % self.order
        return None if point is None or k == 0 else self._affine(self._point(point) * k)

    def base_mul(self, scalar: int) -> AffinePoint | None:
        k = scalar % self.order
        return None if k == 0 else self._affine(self._g * k)

    def base_mul_add(self, a: int, b: int, point: AffinePoint) -> AffinePoint | None:
        return self.add(self.base_mul(a), self.mul(point, b))

    def encode(self, point: AffinePoint) -> bytes:
        return bytes(self._point(point).to_bytes("compressed"))

    def decode(self, data: bytes) -> AffinePoint:
        name = self.curve.name
        if len(data) != 33 or data[0] not in (2, 3):
            raise ProtocolError("bad_point", f"{name}: expected a 33-byte compressed point")
        try:
            p = PointJacobi.from_bytes(self.curve.curve, data, valid_encodings=("compressed",), order=self.order)
        except (MalformedPointError, ValueError, AssertionError):
            raise ProtocolError("bad_point", f"{name}: not a point on the curve") from None
        point = self._affine(p)
        if point is None:  # pragma: no cover - a compressed encoding never decodes to infinity
            raise ProtocolError("bad_point", f"{name}: the point at infinity")
        return point

    def lift_even(self, x: bytes) -> AffinePoint | None:
        try:
            return self.decode(b"\x02" + x)
        except ProtocolError:
            return None


P256 = EcdsaGroup(ecdsa.NIST256p)
SECP256K1 = EcdsaGroup(ecdsa.SECP256k1)
