"""``btcmicro analyze revenue`` from the command line, and the PNG figures it draws."""
from __future__ import annotations

import json
import struct
import subprocess
import sys
from fractions import Fraction

import pytest
from click.testing import CliRunner
from matplotlib import image  # the test extra installs it

from btcmicro.analysis import prob_revenue_below, write_figures
from btcmicro.cli import main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_figures_are_valid_pngs_of_sensible_size(tmp_path):
    paths = write_figures(tmp_path / "figs", Fraction(1, 100), tickets=20_000)
    names = sorted(p.name for p in paths)
    assert names == ["below_expected_rho_1_100.png", "figure3.png", "figure4.png", "figure5.png"]
    for path in paths:
        width, height = png_size(path.read_bytes())
        assert 600 <= width <= 2000 and 300 <= height <= 1000, (path.name, width, height)
        pixels = image.imread(path)
        assert pixels.shape[:2] == (height, width)
        assert pixels[..., :3].std() > 0.05  # something is drawn, not a blank canvas
    # Figure 3 got a third panel for the requested count: wider than two panels.
    assert png_size((tmp_path / "figs" / "figure3.png").read_bytes())[0] == 1500


def test_cli_json():
    r = CliRunner().invoke(main, ["analyze", "revenue", "--rho", "1/128", "--tickets", "50000", "--price", "10",
                                  "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["rho"] == "1/128" and data["tickets"] == 50_000 and data["face_value"] == 1_280
    assert [b["fraction"] for b in data["below"]] == ["4/5", "9/10"]
    assert data["below"][1]["probability"] == prob_revenue_below(50_000, Fraction(1, 128), Fraction(9, 10))
    assert data["figures"] == []
    # --json on the root command works too, and --below picks the fractions.
    r = CliRunner().invoke(main, ["--json", "analyze", "revenue", "--rho", "0.0078125", "--tickets", "15000",
                                  "--below", "0.8"])
    data = json.loads(r.output)
    assert data["unit"] == "X" and len(data["below"]) == 1 and data["below"][0]["wins_needed"] == 94


def test_cli_text_and_plots(tmp_path):
    r = CliRunner().invoke(main, ["analyze", "revenue", "--rho", "1/512", "--tickets", "1000",
                                  "--plots", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "1,000 tickets at winning probability 1/512" in r.output and "revenue below 80% of expected" in r.output
    for name in ("figure3.png", "figure4.png", "figure5.png"):
        assert f"wrote {tmp_path / name}" in r.output
        assert (tmp_path / name).read_bytes()[:8] == PNG_SIGNATURE
    assert not list(tmp_path.glob("below_expected_*"))  # 1/512 is the paper's own Figure 5


@pytest.mark.parametrize("rho,message", [("abc", "not a probability"), ("0", "not in (0, 1]"),
                                         ("3/2", "not in (0, 1]"), ("1/0", "not a probability")])
def test_cli_bad_rho_is_a_usage_error(rho, message):
    r = CliRunner().invoke(main, ["analyze", "revenue", "--rho", rho, "--tickets", "100"])
    assert r.exit_code == 2 and "--rho" in r.output and message in r.output, r.output


def test_cli_bad_tickets_and_price():
    r = CliRunner().invoke(main, ["analyze", "revenue", "--rho", "1/128", "--tickets", "0"])
    assert r.exit_code == 2 and "--tickets" in r.output
    r = CliRunner().invoke(main, ["analyze", "revenue", "--rho", "3/1000", "--tickets", "100", "--price", "1"])
    assert r.exit_code == 2 and "not a whole number" in r.output


def test_cli_plots_without_matplotlib_say_how_to_install(tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    r = CliRunner().invoke(main, ["analyze", "revenue", "--rho", "1/128", "--tickets", "100", "--plots",
                                  str(tmp_path)])
    assert r.exit_code == 1 and "pip install 'btcmicro[analysis]'" in r.output, r.output
    r = CliRunner().invoke(main, ["analyze", "revenue", "--rho", "1/128", "--tickets", "100"])
    assert r.exit_code == 0 and "100 tickets" in r.output


def test_cli_process_does_not_load_matplotlib():
    code = ("import sys; from btcmicro.cli import main; "
            "main(['analyze', 'revenue', '--rho', '1/128', '--tickets', '1000'], standalone_mode=False); "
            "assert 'matplotlib' not in sys.modules, 'matplotlib loaded'")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "1,000 tickets at winning probability 1/128" in r.stdout
