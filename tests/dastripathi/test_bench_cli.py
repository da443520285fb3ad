"""`btcmicro bench dastripathi --quick --json`: the report's shape, with its small run of payments through a point
of sale process over HTTP (no speed is asserted)."""
from __future__ import annotations

import json

from click.testing import CliRunner

from btcmicro.bench.dastripathi import POS_SCHEMES, RING_SIZES, format_report
from btcmicro.cli import main


def test_bench_dastripathi_quick_json_shape() -> None:
    res = CliRunner().invoke(main, ["bench", "dastripathi", "--quick", "--json"])
    assert res.exit_code == 0, res.output
    r = json.loads(res.output)
    assert r["quick"] is True and r["rounds"] >= 1
    assert set(r["raw_us"]) == {"raw BIP340 sign", "raw BIP340 verify", "raw k·G", "raw a·G+b·Q", "raw ECDSA verify"}
    ops = r["operations"]
    expected = {"voucher sign", "voucher check", "microcoin issue", "microcoin verify", "microcoin key extraction"}
    expected |= {f"tree {bits}-bit {op}" for bits in (16, 64) for op in ("assert", "verify", "extract")}
    expected |= {f"ring {op} n={n}" for n in RING_SIZES for op in ("sign", "verify")}
    assert expected <= set(ops)
    assert any(name.startswith("nonce ") and name.endswith(" verify") for name in ops)
    for o in ops.values():
        assert o["us"] > 0 and o["raw_us"] > 0 and o["ratio"] > 0 and o["raw"]
    sizes = r["sizes"]
    assert sizes["assertion tree 16-bit"] == 1_105 and sizes["assertion tree 64-bit"] == 4_225
    assert sizes["assertion nonce 16-bit"] == 576
    assert [sizes[f"ring signature n={n}"] for n in RING_SIZES] == [96, 352, 1_632]
    assert sizes["voucher"] > 64 and sizes["microcoin"] > 64
    assert len(r["targets"]) == 2 + len(RING_SIZES)
    assert all(isinstance(t["ok"], bool) for t in r["targets"])
    assert ops["microcoin verify"]["raw"] == "1 ECDSA verify"
    pos = r["pos_http"]  # payments through a point of sale process over HTTP, stored durably
    assert set(pos["schemes"]) == set(POS_SCHEMES) and pos["engine"]
    for s in pos["schemes"].values():
        assert s["payments"] == pos["payments_per_scheme"] > 0 and s["payments_per_s"] > 0
        assert s["stored_paid"] == [pos["amount"] * (s["payments"] // pos["channels"] + 1)] * pos["channels"]
        assert s["server_cpu_us_per_payment"] >= 0 and s["client_cpu_cores"] > 0 and s["load_before"]
    text = format_report(r)
    assert "ring verify n=50" in text and "targets:" in text and "point of sale over HTTP" in text
