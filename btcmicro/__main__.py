from btcmicro.cli import run

run()
