"""``describe_script``: a script's ASM (Core's and bx's), Core's type, the templates it is, its addresses."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from btcmicro import registry
from btcmicro.describe._common import as_bytes, bx_script, template_dict
from btcmicro.interop import script_bytes
from btcmicro.script.standard import p2sh, p2wsh, script_to_address, script_to_asm, solve

__all__ = ["ScriptView", "describe_script"]


@dataclass
class ScriptView:
    """A script: ASM (Core's form and bx form), Core's type, templates it is, addresses it has."""

    hex: str
    size: int
    asm: str
    bx: str
    type: str
    address: str | None
    templates: list[dict[str, Any]]
    wrapped: dict[str, str | None] = field(default_factory=dict)

    @property
    def template(self) -> str | None:
        """Name of the most specific template recognised, if any."""
        return self.templates[0]["template"] if self.templates else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"template": self.template}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def render(self) -> str:
        lines = ["script {", f"  hex {self.hex}", f"  size {self.size}", f'  script "{self.bx}"',
                 f"  asm {self.asm}", f"  type {self.type}"]
        if self.address:
            lines.append(f"  address {self.address}")
        for t in self.templates:
            lines.append("  template {")
            lines.append(f"    name {t['template']}")
            if "m" in t:
                lines.append(f"    m {t['m']} n {t['n']}{' sorted' if t['sorted'] else ''}")
            for role, k in t["keys"].items():
                lines.append(f"    key {role} {k}")
            if t.get("expiry"):
                lines.append(f"    expiry {t['expiry']['text']}")
            lines.append(f"    paths {' '.join(t['paths'])}")
            lines.append("  }")
        for w, a in self.wrapped.items():
            lines.append(f"  {w} {a}")
        lines.append("}")
        return "\n".join(lines)

    __str__ = render


def describe_script(data: object) -> ScriptView:
    """Describe a script (scriptPubKey, redeem script or witness script) from bytes or hex, a ``CScript``,
    a bitcoinutils ``Script``, or an address object of either library (its scriptPubKey)."""
    script = as_bytes(data) if isinstance(data, str) else script_bytes(data)
    kind, _ = solve(script)
    templates = registry.recognise(script)
    wrapped: dict[str, str | None] = {}
    if kind not in ("scripthash", "witness_v0_scripthash", "witness_v0_keyhash", "witness_v1_taproot",
                    "nulldata") and script:
        wrapped = {
            "p2sh": script_to_address(p2sh(script)),
            "p2wsh": script_to_address(p2wsh(script)),
            "p2sh-p2wsh": script_to_address(p2sh(p2wsh(script))),
        }
    return ScriptView(
        hex=script.hex(), size=len(script), asm=script_to_asm(script), bx=bx_script(script), type=kind,
        address=script_to_address(script), templates=[template_dict(t) for t in templates], wrapped=wrapped,
    )
