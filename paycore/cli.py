"""The ``paycore`` command line.

::

    paycore --version                    # paycore's version and each installed provider's
    paycore providers [--json]
    paycore accounts [--json]
    paycore create --amount 9.90 --channel alipay_qr --subject Tea \\
        --notify-url https://shop.example/notify --return-url https://shop.example/done
    paycore query ORDER_ID
    paycore verify [--body BODY]          # else the body is read from stdin
    paycore sign explain [--body BODY] [--method GET --query QUERY]
    paycore check [--account NAME] [--notify-url BASE] [--offline]
    paycore demo [--provider juhe] [--async]
    paycore new-provider NAME [--path DIR]
    paycore sandbox --provider juhe [--port 8000] [--merchant-id ID] [--secret-key KEY] [--fault F]
                    [--notify-interval S] [--channel CODE] [--strict]

Common options: ``--config PATH``, ``--account NAME``, ``--json``, ``--verbose``.
Exit codes: 0 success; 2 usage or configuration error; 3 verification failed;
4 the gateway refused; 5 transport failure; 1 anything else.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence

from paycore import errors

__all__ = ["EXIT_CODES", "main"]

#: The exit code of each error class; the first matching entry wins.
EXIT_CODES: tuple[tuple[type[errors.PaycoreError], int], ...] = (
    (errors.ConfigError, 2),
    (errors.InvalidRequest, 2),
    (errors.NotSupported, 2),
    (errors.VerificationError, 3),
    (errors.GatewayError, 4),
    (errors.TransportError, 5),
)


def _exit_code(exc: errors.PaycoreError) -> int:
    return next((code for cls, code in EXIT_CODES if isinstance(exc, cls)), 1)


class _Versions(argparse.Action):
    """``--version``: paycore's and every installed provider distribution's, without importing a provider."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        from paycore._cli_providers import versions  # the only command that needs it, imported when used

        print(versions())
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS lets the options stand before or after the subcommand.
    common.add_argument(
        "--config", default=argparse.SUPPRESS, help="configuration file (default: $PAYCORE_CONFIG or ./paycore.toml)"
    )
    common.add_argument(
        "--account", default=argparse.SUPPRESS, help="account name (default: $PAYCORE_ACCOUNT or the file's default)"
    )
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log each gateway call to stderr"
    )

    parser = argparse.ArgumentParser(
        prog="paycore", description="Take payments through any paycore provider.", parents=[common]
    )
    parser.add_argument(
        "--version", action=_Versions, help="show paycore's version and each installed provider's, then exit"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("providers", parents=[common], help="list installed providers").set_defaults(
        run="_cli_providers:providers"
    )
    commands.add_parser("accounts", parents=[common], help="list configured accounts, secrets masked").set_defaults(
        run="_cli_accounts:accounts"
    )

    create = commands.add_parser("create", parents=[common], help="create a payment")
    create.add_argument("--amount", required=True, help="amount in yuan, e.g. 9.90")
    create.add_argument("--channel", required=True, help="a channel (alipay_qr, wechat_qr, ...) or a raw provider code")
    create.add_argument("--subject", required=True, help="what is being paid for")
    create.add_argument("--notify-url", required=True, help="where the gateway sends the notification")
    create.add_argument("--return-url", required=True, help="where the buyer's browser returns")
    create.add_argument("--order-id", help="merchant order id (default: a new one)")
    create.add_argument("--attach", help="merchant data echoed in the notification")
    create.add_argument(
        "--flow", choices=["server", "form"], default=None, help="create flow (default: the account's create_flow)"
    )
    create.set_defaults(run="_cli_payments:create")

    query = commands.add_parser("query", parents=[common], help="ask the gateway about an order")
    query.add_argument("order_id", metavar="ORDER_ID")
    query.set_defaults(run="_cli_payments:query")

    verify = commands.add_parser("verify", parents=[common], help="verify a notification (body on stdin or --body)")
    verify.add_argument("--body", help="the notification body, as received (default: stdin for a POST)")
    verify.add_argument("--method", default="POST", type=str.upper, help="the request's method (default: POST)")
    verify.add_argument("--path", default="/", help="the request's path (default: /)")
    verify.add_argument("--query", default="", help="the raw query string, for gateways that notify by GET")
    verify.add_argument("--header", action="append", metavar="NAME:VALUE", help="a request header; repeat")
    verify.set_defaults(run="_cli_payments:verify")

    sign = commands.add_parser("sign", help="signature diagnostics")
    sign_commands = sign.add_subparsers(dest="sign_command", required=True, metavar="COMMAND")
    explain = sign_commands.add_parser(
        "explain",
        parents=[common],
        help="the exact text signed for a received message, each rule tried, and which matched or why none did",
    )
    explain.add_argument("--body", help="the message body, as received (default: stdin for a POST)")
    explain.add_argument("--method", default="POST", type=str.upper, help="the request's method (default: POST)")
    explain.add_argument("--path", default="/", help="the request's path (default: /)")
    explain.add_argument("--query", default="", help="the raw query string, for gateways that notify by GET")
    explain.add_argument("--header", action="append", metavar="NAME:VALUE", help="a request header; repeat")
    explain.set_defaults(run="_cli_payments:sign_explain")

    check = commands.add_parser(
        "check", parents=[common], help="check accounts: settings, https, placeholder secrets, notify URL, reachability"
    )
    check.add_argument("--notify-url", metavar="BASE", help="the notify base URL the application will give orders")
    check.add_argument("--offline", action="store_true", help="do not try to reach the gateways")
    check.set_defaults(run="_cli_operations:check")

    reconcile = commands.add_parser(
        "reconcile", parents=[common], help="query pending orders and apply what the gateways say, exactly once"
    )
    reconcile.add_argument("order_ids", metavar="ORDER_ID", nargs="*", help="orders to reconcile")
    reconcile.add_argument("--orders-file", metavar="PATH", help="a file of order ids, one per line")
    reconcile.add_argument(
        "--handler", required=True, metavar="MODULE:ATTRIBUTE", help="the application's paycore.NotificationHandler"
    )
    reconcile.set_defaults(run="_cli_operations:reconcile")

    demo = commands.add_parser("demo", parents=[common], help="a whole payment round trip on a local sandbox")
    demo.add_argument("--provider", default="juhe", help="a provider that ships a sandbox (default: juhe)")
    demo.add_argument("--async", dest="use_async", action="store_true", help="use AsyncGateway")
    demo.set_defaults(run="_cli_sandbox:demo")

    scaffold = commands.add_parser(
        "new-provider", help="generate a provider distribution: pyproject, hooks, settings, sandbox, tests, docs"
    )
    scaffold.add_argument("name", metavar="NAME", help="the provider's entry-point name, e.g. acme")
    scaffold.add_argument(
        "--path",
        metavar="DIR",
        help="where (new or empty; default: providers/NAME if ./providers exists, else ./paycore-NAME)",
    )
    scaffold.set_defaults(run="_cli_sandbox:new_provider")

    sandbox = commands.add_parser("sandbox", parents=[common], help="serve a provider's local sandbox gateway")
    sandbox.add_argument("--provider", required=True, help="a provider that ships a sandbox, e.g. juhe")
    sandbox.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    sandbox.add_argument("--port", type=int, default=8000, help="port (default: 8000; 0 picks a free one)")
    sandbox.add_argument("--merchant-id", help="the merchant id it accepts (default: the provider's)")
    sandbox.add_argument("--secret-key", help="the key it signs with (default: the public sandbox test key)")
    sandbox.add_argument("--profile", help="how notifications are resent (juhe: document, realistic, fast)")
    sandbox.add_argument("--fault", action="append", metavar="FAULT", help="switch a fault on for every order; repeat")
    sandbox.add_argument("--state", metavar="PATH", help="keep state in this SQLite file (default: in memory)")
    sandbox.add_argument(
        "--notify-interval",
        type=float,
        metavar="SECONDS",
        help="seconds between notification tries (default: profile's)",
    )
    sandbox.add_argument("--channel", action="append", metavar="CODE", help="accept this channel code too; repeat")
    sandbox.add_argument(
        "--strict", action="store_true", help="follow the protocol document to the letter, not the reference software"
    )
    sandbox.add_argument(
        "--certificates", action="store_true", help="sign with public key certificates (alipay's certificate mode)"
    )
    sandbox.set_defaults(run="_cli_sandbox:sandbox")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code."""
    args = _parser().parse_args(argv)
    if getattr(args, "verbose", False):
        logging.basicConfig(level=logging.INFO, format="paycore: %(message)s", stream=sys.stderr)
        # paycore's own line names method, host, path, status, outcome and duration;
        # httpx's would repeat it with the full URL.
        logging.getLogger("httpx").setLevel(logging.WARNING)
    # Each command reports its own outcome in one line: the library's log lines, which Python's last-resort
    # handler would print too, only with --verbose. Removed on the way out: main() may run in a process that
    # goes on (a test, a management command).
    quiet = None if getattr(args, "verbose", False) else logging.NullHandler()
    if quiet is not None:
        logging.getLogger("paycore").addHandler(quiet)
    try:
        code: int = _command(args.run)(args)
    except errors.PaycoreError as exc:
        print(f"paycore: error: {_one_line(str(exc))}", file=sys.stderr)
        return _exit_code(exc)
    except Exception as exc:  # noqa: BLE001  # the CLI promises one line, never a traceback
        print(f"paycore: unexpected {type(exc).__name__}: {_one_line(str(exc))}", file=sys.stderr)
        return 1
    finally:
        if quiet is not None:
            logging.getLogger("paycore").removeHandler(quiet)
    return code


def _command(target: str) -> Callable[[argparse.Namespace], int]:
    """The command named ``room:function``, its room imported only now: ``paycore --help`` loads none of them."""
    room, _, function = target.partition(":")
    command: Callable[[argparse.Namespace], int] = getattr(importlib.import_module(f"paycore.{room}"), function)
    return command


def _one_line(message: str) -> str:
    return " ".join(message.split())


if __name__ == "__main__":
    sys.exit(main())
