"""No command answers bad input with a traceback (issue 19, item 3).

The sweep walks ``btcmicro.cli.main`` recursively and runs every command through the console entry point
(:func:`btcmicro.cli.run`, in this process) with an unknown option, with nonsense for each argument, and
with nonsense for each option whose type cannot take it; the datadir is empty, so commands that need a
node say so. Each run must exit non-zero, print no traceback and name the problem on one ``error:`` line.
Then the four tracebacks users met are replayed on a real node.
"""
from __future__ import annotations

import signal
import socket
import sys
from collections.abc import Iterator

import click
import pytest

import btcmicro.cli
from btcmicro.cli import main, run
from btcmicro.core.errors import NodeError
from btcmicro.node.chain import RPCChain
from btcmicro.tx.build import TxBuilder

NONSENSE = "zz"


def commands(group: click.Group = main, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, cmd in sorted(group.commands.items()):
        yield (*path, name), cmd
        if isinstance(cmd, click.Group):
            yield from commands(cmd, (*path, name))


def bad_invocations() -> Iterator[tuple[str, ...]]:
    for path, cmd in commands():
        yield (*path, "--no-such-option")
        if isinstance(cmd, click.Group):
            continue
        args = [p for p in cmd.params if isinstance(p, click.Argument)]
        if args:
            yield (*path, *[NONSENSE] * sum(max(a.nargs, 1) for a in args))
        for opt in cmd.params:
            if isinstance(opt, click.Option) and not opt.is_flag and isinstance(
                    opt.type, (click.types.IntParamType, click.types.FloatParamType, click.Choice)):
                yield (*path, *[NONSENSE] * sum(1 for a in args if a.required), opt.opts[0], NONSENSE)


def run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["btcmicro", *args])
    previous = signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises(SystemExit) as exit_info:  # anything else escaping run() is a traceback
            run()
    finally:
        signal.signal(signal.SIGTERM, previous)
    out = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 1), out.out + out.err


def assert_one_line_error(code: int, output: str, args: tuple[str, ...]) -> None:
    assert code != 0, f"btcmicro {' '.join(args)} succeeded on bad input:\n{output}"
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.lower().startswith("error")]
    assert len(errors) == 1, f"btcmicro {' '.join(args)}: want one error line, got:\n{output}"


def assert_only_one_line(code: int, output: str, args: tuple[str, ...]) -> None:
    assert_one_line_error(code, output, args)
    assert len(output.strip().splitlines()) == 1, f"btcmicro {' '.join(args)}: want one line in all, got:\n{output}"


@pytest.fixture
def empty_home(tmp_path, monkeypatch):
    monkeypatch.setenv("BTCMICRO_DATADIR", str(tmp_path / "dd"))
    monkeypatch.setenv("BTCMICRO_PASSPHRASE", "sweep")
    monkeypatch.delenv("BTCMICRO_DEBUG", raising=False)
    monkeypatch.setattr(btcmicro.cli, "DEFAULT_DATADIR", tmp_path / "dd")
    return tmp_path / "dd"


def test_the_sweep_reaches_every_command():
    names = {" ".join(p) for p, _ in commands()}
    assert {"wallet send", "micropay2 refund", "channel serve", "rpc", "tx describe", "regtest start"} <= names
    assert len(list(bad_invocations())) > 2 * len(names)


@pytest.mark.parametrize("args", list(bad_invocations()), ids=" ".join)
def test_bad_arguments_get_one_line_never_a_traceback(args, empty_home, monkeypatch, capsys):
    code, output = run_cli(monkeypatch, capsys, "--datadir", str(empty_home), *args)
    assert_only_one_line(code, output, args)


# --------------------------------------------------------------- the four seen, on a real node


@pytest.fixture
def on_node(node, empty_home, monkeypatch, capsys):
    def cli(*args: str) -> tuple[int, str]:
        return run_cli(monkeypatch, capsys, "--datadir", str(empty_home), "--url", node.url,
                       "--cookie", str(node.cookie_path), *args)
    return cli


@pytest.mark.integration
def test_rpc_with_positional_and_named_arguments(on_node):
    code, output = on_node("rpc", "getblockhash", "0", "height=0")
    assert_one_line_error(code, output, ("rpc",))
    assert "not both" in output


@pytest.mark.integration
def test_micropay2_refund_with_a_bad_outpoint(on_node):
    for outpoint in ("nonsense", "ab:cd", "00" * 32 + ":x"):
        code, output = on_node("micropay2", "refund", outpoint)
        assert_one_line_error(code, output, ("micropay2", "refund", outpoint))
        assert "TXID:VOUT" in output


@pytest.mark.integration
def test_channel_serve_on_a_busy_port(on_node):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        code, output = on_node("channel", "serve", "--port", str(busy.getsockname()[1]))
    assert_one_line_error(code, output, ("channel", "serve"))
    assert "--port" in output and "in use" in output


@pytest.mark.integration
def test_a_built_transaction_where_a_transaction_is_taken(rpc, funded):
    coin = funded.coins()[0]
    built = TxBuilder().add_input(coin.txid, coin.vout, coin.amount, coin.spk).add_output(
        funded.address(), 10_000).build(funded.script(), 2000)
    # unsigned, so the node refuses it, by Core's verdict, instead of a TypeError about the object
    with pytest.raises(NodeError):
        rpc.sendrawtransaction(built)
    with pytest.raises(NodeError):
        RPCChain(rpc).broadcast(built)
    assert rpc.decoderawtransaction(built)["vout"][0]["value"] > 0


def nonsense_arguments() -> Iterator[tuple[str, ...]]:
    for path, cmd in commands():
        args = [p for p in cmd.params if isinstance(p, click.Argument)]
        if args and not isinstance(cmd, click.Group):
            yield (*path, *[NONSENSE] * sum(max(a.nargs, 1) for a in args))


@pytest.mark.integration
@pytest.mark.parametrize("args", list(nonsense_arguments()), ids=" ".join)
def test_nonsense_arguments_on_a_node(args, on_node):
    code, output = on_node(*args)
    assert_one_line_error(code, output, args)


def test_an_unexpected_error_is_one_line_and_the_traceback_is_on_request(empty_home, monkeypatch, capsys):
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("something\nwe did not foresee")

    monkeypatch.setattr(btcmicro.cli.describe, "_hex_arg", broken)  # stands for any bug of ours
    code, output = run_cli(monkeypatch, capsys, "script", "describe", "00")
    assert_one_line_error(code, output, ("script", "describe"))
    assert "unexpected RuntimeError: something we did not foresee" in output and "BTCMICRO_DEBUG=1" in output
    monkeypatch.setenv("BTCMICRO_DEBUG", "1")
    monkeypatch.setattr(sys, "argv", ["btcmicro", "script", "describe", "00"])
    previous = signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises(RuntimeError):
            run()
    finally:
        signal.signal(signal.SIGTERM, previous)
