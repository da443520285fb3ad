"""``python -m btcmicro.cli``."""
from btcmicro.cli import run

run()
