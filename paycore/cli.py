"""The ``paycore`` command line.

::

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
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

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


def _emit(args: argparse.Namespace, data: Any, readable: Callable[[], str]) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(readable())


def _fields(data: dict[str, Any]) -> str:
    width = max(len(key) for key in data)
    lines = []
    for key, value in data.items():
        if value is None or value == {}:
            continue
        shown = json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value
        lines.append(f"{key:<{width}}  {shown}")
    return "\n".join(lines)


def _cmd_providers(args: argparse.Namespace) -> int:
    from paycore._discovery import installed_providers

    listing = []
    for info in installed_providers():
        entry: dict[str, Any] = {
            "name": info.name,
            "distribution": info.distribution,
            "version": info.version,
            "target": info.target,
        }
        if getattr(args, "json", False):
            from paycore._plugins import load_provider_class

            try:
                entry["capabilities"] = load_provider_class(info.name).capabilities().model_dump(mode="json")
                for key, values in entry["capabilities"].items():
                    # Sets as sorted lists, for output that diffs well; by-channel tables as sorted tables.
                    entry["capabilities"][key] = (
                        {name: sorted(fields) for name, fields in sorted(values.items())}
                        if isinstance(values, dict)
                        else sorted(values)
                    )
            except errors.PaycoreError as exc:
                entry["error"] = str(exc)
        listing.append(entry)

    def readable() -> str:
        if not listing:
            return "no payment providers installed"
        return "\n".join(f"{e['name']:<12} {e['distribution'] or '?'} {e['version'] or ''}".rstrip() for e in listing)

    _emit(args, listing, readable)
    return 0


def _masked_settings(provider: str, settings: dict[str, Any]) -> dict[str, Any]:
    import pydantic

    from paycore._plugins import load_provider_class

    model = load_provider_class(provider).settings_model
    from paycore._validation import describe_validation_error

    try:
        # SecretStr fields dump as '**********': the model knows what is secret.
        return model.model_validate(settings).model_dump(mode="json")
    except pydantic.ValidationError as exc:
        problem = describe_validation_error(exc)
    # Raised outside the except block: its hidden __context__ would keep the settings, secrets included.
    raise errors.ConfigError(problem)


def _cmd_accounts(args: argparse.Namespace) -> int:
    from paycore.config import load_config

    config = load_config(getattr(args, "config", None))
    try:
        default: str | None = config.resolve_name(None)
    except errors.ConfigError:
        default = None
    listing = []
    for name in config.account_names():
        entry: dict[str, Any] = {"name": name, "default": name == default}
        try:
            account = config.account(name)
            entry["provider"] = account.provider
            entry["settings"] = _masked_settings(account.provider, dict(account.settings))
        except errors.PaycoreError as exc:
            entry["error"] = str(exc)
        listing.append(entry)

    def readable() -> str:
        if not listing:
            return "no accounts configured"
        lines = []
        for entry in listing:
            marker = " (default)" if entry["default"] else ""
            lines.append(f"{entry['name']}{marker}: {entry.get('provider', '?')}")
            if "error" in entry:
                lines.append(f"  error: {entry['error']}")
            for key, value in entry.get("settings", {}).items():
                lines.append(f"  {key} = {json.dumps(value, ensure_ascii=False)}")
        return "\n".join(lines)

    _emit(args, listing, readable)
    # A configuration check: any account that would not load fails the command.
    return 2 if any("error" in entry for entry in listing) else 0


def _gateway(args: argparse.Namespace) -> Any:
    from paycore._gateway import Gateway

    return Gateway.from_config(getattr(args, "account", None), getattr(args, "config", None))


def _emit_model(args: argparse.Namespace, model: Any) -> None:
    data = model.model_dump(mode="json")
    shown = dict(data)
    action = getattr(model, "next_action", None)
    if action is not None:
        # What the buyer must do, in words: a QR code's content, a link, a form, SDK parameters.
        shown["next_action"] = action.describe()
        shown.pop("form", None)
    ack = getattr(model, "ack", None)
    if ack is not None:
        shown["ack"] = f"HTTP {ack.status} {ack.content_type}: {ack.body}"
    _emit(args, data, lambda: _fields(shown))


def _cmd_create(args: argparse.Namespace) -> int:
    from paycore.models import Order

    fields = {
        "amount": args.amount,
        "channel": args.channel,
        "subject": args.subject,
        "notify_url": args.notify_url,
        "return_url": args.return_url,
    }
    if args.order_id:
        fields["order_id"] = args.order_id
    if args.attach is not None:
        fields["attach"] = args.attach
    order = Order(**fields)
    with _gateway(args) as gateway:
        _emit_model(args, gateway.create(order, flow=args.flow))  # None: the account's create_flow
    return 0


def _cmd_query(args: argparse.Namespace) -> int:
    with _gateway(args) as gateway:
        _emit_model(args, gateway.query(args.order_id))
    return 0


def _received(args: argparse.Namespace) -> Any:
    """The message ``verify`` and ``sign explain`` read: method, path, query, headers and body as received."""
    from paycore.http import NotificationRequest

    # The command line arrives decoded with surrogateescape: give the bytes as typed.
    if args.body is not None:
        body = os.fsencode(args.body)
    elif args.method == "POST":
        body = sys.stdin.buffer.read()
    else:
        body = b""
    headers = []
    for header in args.header or ():
        name, separator, value = header.partition(":")
        if not separator:
            raise errors.InvalidRequest(f"--header takes NAME:VALUE, not {header!r}")
        headers.append((name.strip(), value.strip()))
    return NotificationRequest(method=args.method, path=args.path, query=args.query, headers=headers, body=body)


def _cmd_verify(args: argparse.Namespace) -> int:
    request = _received(args)
    with _gateway(args) as gateway:
        _emit_model(args, gateway.verify_notification(request))
    return 0


def _cmd_sign_explain(args: argparse.Namespace) -> int:
    import dataclasses

    request = _received(args)
    with _gateway(args) as gateway:
        explanation = gateway.explain_signature(request)
        heading = f"account {gateway.account} (provider {gateway.provider_name})"
    data = {**dataclasses.asdict(explanation), "verdict": explanation.verdict()}

    def readable() -> str:
        lines = [heading, f"rule: {explanation.rule}", f"received signature: {explanation.received or '(none)'}"]
        for number, candidate in enumerate(explanation.candidates, start=1):
            lines.append(f"{number}. {candidate.label}: {'MATCHED' if candidate.matched else 'no match'}")
            lines.append(f"   signed:   {candidate.signed_text}")
            lines.append(f"   left out: {', '.join(candidate.dropped) or '(nothing)'}")
            lines.append(f"   gives:    {candidate.digest}")
        if explanation.problem:
            lines.append(f"problem: {explanation.problem}")
        lines.append(f"verdict: {explanation.verdict()}")
        return "\n".join(lines)

    _emit(args, data, readable)
    return 0 if explanation.matched is not None and explanation.problem is None else 3


def _cmd_check(args: argparse.Namespace) -> int:
    import dataclasses

    from paycore._check import check_account
    from paycore.config import load_config

    config = load_config(getattr(args, "config", None))
    account = getattr(args, "account", None)
    names = [account] if account else config.account_names()
    if not names:
        raise errors.ConfigError("no accounts configured: nothing to check")
    findings = [
        finding
        for name in names
        for finding in check_account(config, name, notify_base=args.notify_url, reach=not args.offline)
    ]

    def readable() -> str:
        return "\n".join(f"{finding.account}: {finding.level}: {finding.message}" for finding in findings)

    _emit(args, [dataclasses.asdict(finding) for finding in findings], readable)
    levels = {finding.level for finding in findings}
    return 2 if "error" in levels else 1 if "warning" in levels else 0


def _load_handler(target: str) -> Any:
    """The application's NotificationHandler named ``module:attribute`` (a callable returning one works too)."""
    import importlib

    from paycore.handler import NotificationHandler

    module_name, separator, attribute = target.partition(":")
    if not separator or not module_name or not attribute:
        raise errors.ConfigError(f"--handler takes MODULE:ATTRIBUTE, not {target!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # the application's own modules, as `python -m` would find them
    try:
        found: Any = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise errors.ConfigError(f"cannot load the handler {target!r}: {type(exc).__name__}: {exc}") from None
    if not isinstance(found, NotificationHandler) and callable(found):
        found = found()
    if not isinstance(found, NotificationHandler):
        raise errors.ConfigError(f"{target!r} is not a paycore.NotificationHandler")
    return found


def _cmd_reconcile(args: argparse.Namespace) -> int:
    handler = _load_handler(args.handler)
    order_ids = list(args.order_ids)
    if args.orders_file:
        with open(args.orders_file, encoding="utf-8") as listing:
            order_ids += [line.strip() for line in listing if line.strip()]
    if not order_ids:
        raise errors.InvalidRequest("name the orders to reconcile (ORDER_ID ... or --orders-file)")
    results = handler.reconcile(order_ids)
    data = [
        {
            "order_id": result.order_id,
            "status": result.status.value if result.status else None,
            "outcome": result.outcome.value if result.outcome else None,
            "error": result.error,
        }
        for result in results
    ]

    def readable() -> str:
        return "\n".join(
            f"{entry['order_id']}: {entry['status'] or '?'}"
            + (f", {entry['outcome']}" if entry["outcome"] else "")
            + (f" ({entry['error']})" if entry["error"] else "")
            for entry in data
        )

    _emit(args, data, readable)
    # Reconciled: queried, and applied, found applied before, or nothing to apply. Anything else (an unknown
    # order, a mismatch, a failure) needs a person.
    settled = all(
        result.error is None and result.outcome is not None and result.outcome.acknowledged for result in results
    )
    return 0 if settled else 1


def _cmd_demo(args: argparse.Namespace) -> int:
    from paycore._demo import run_demo

    run_demo(args.provider, use_async=args.use_async, say=lambda line: print(line, flush=True))
    return 0


def _toml_value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)  # a TOML basic string, array or number


def _cmd_new_provider(args: argparse.Namespace) -> int:
    from pathlib import Path

    from paycore._scaffold import default_target, new_provider

    target = Path(args.path) if args.path else default_target(args.name, Path.cwd())
    written = new_provider(args.name, target)
    print(f"created the {args.name!r} provider in {target}:")
    for path in written:
        print(f"  {path}")
    print(
        f"next: pip install -e '{target}[test]' && pytest {target / 'tests'}  "
        "(the conformance suite says which hook to write next; see docs/authoring.md)"
    )
    return 0


def _cmd_sandbox(args: argparse.Namespace) -> int:
    from paycore.sandbox import PUBLIC_SANDBOX_KEY, SandboxOptions, make_sandbox

    options = SandboxOptions(
        host=args.host,
        port=args.port,
        merchant_id=args.merchant_id,
        secret_key=args.secret_key,
        profile=args.profile,
        faults=tuple(args.fault or ()),
        state_path=args.state,
        notify_interval=args.notify_interval,
        channels=tuple(args.channel or ()),
        strict=args.strict,
    )
    sandbox = make_sandbox(args.provider, options)
    lines = [f"paycore sandbox: the {args.provider!r} protocol on {sandbox.url} (Ctrl-C to stop)", ""]
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        # The admin API can pay any order and has no authentication.
        lines += [
            f"WARNING: listening on {args.host}: anyone who reaches it can pay orders through its admin API, "
            "and make it send notifications to any URL it can reach",
            "",
        ]
    lines += ["Paste into paycore.toml:", "", "[accounts.sandbox]", f"provider = {_toml_value(args.provider)}"]
    for key, value in sandbox.account_settings().items():
        if args.secret_key is not None and value == args.secret_key:
            # A key the user chose is theirs: never printed.
            lines.append(f"# {key}: the value you passed with --secret-key (or set PAYCORE_SANDBOX_{key.upper()})")
        elif value == PUBLIC_SANDBOX_KEY:
            lines.append(f"{key} = {_toml_value(value)}  # the public sandbox test key")
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    print("\n".join(lines), flush=True)
    # SIGTERM (systemd, docker stop, kill) ends the process without unwinding: the sandbox's files (Alipay's
    # generated keys) would stay behind. Taken as Ctrl-C, it stops the sandbox as Ctrl-C does. SIGINT too,
    # explicitly: a shell starts a background job with SIGINT ignored, and then nothing could stop it cleanly.
    previous = {number: signal.signal(number, _interrupt) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        with contextlib.suppress(KeyboardInterrupt):
            sandbox.serve_forever()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


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
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("providers", parents=[common], help="list installed providers").set_defaults(run=_cmd_providers)
    commands.add_parser("accounts", parents=[common], help="list configured accounts, secrets masked").set_defaults(
        run=_cmd_accounts
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
    create.set_defaults(run=_cmd_create)

    query = commands.add_parser("query", parents=[common], help="ask the gateway about an order")
    query.add_argument("order_id", metavar="ORDER_ID")
    query.set_defaults(run=_cmd_query)

    verify = commands.add_parser("verify", parents=[common], help="verify a notification (body on stdin or --body)")
    verify.add_argument("--body", help="the notification body, as received (default: stdin for a POST)")
    verify.add_argument("--method", default="POST", type=str.upper, help="the request's method (default: POST)")
    verify.add_argument("--path", default="/", help="the request's path (default: /)")
    verify.add_argument("--query", default="", help="the raw query string, for gateways that notify by GET")
    verify.add_argument("--header", action="append", metavar="NAME:VALUE", help="a request header; repeat")
    verify.set_defaults(run=_cmd_verify)

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
    explain.set_defaults(run=_cmd_sign_explain)

    check = commands.add_parser(
        "check", parents=[common], help="check accounts: settings, https, placeholder secrets, notify URL, reachability"
    )
    check.add_argument("--notify-url", metavar="BASE", help="the notify base URL the application will give orders")
    check.add_argument("--offline", action="store_true", help="do not try to reach the gateways")
    check.set_defaults(run=_cmd_check)

    reconcile = commands.add_parser(
        "reconcile", parents=[common], help="query pending orders and apply what the gateways say, exactly once"
    )
    reconcile.add_argument("order_ids", metavar="ORDER_ID", nargs="*", help="orders to reconcile")
    reconcile.add_argument("--orders-file", metavar="PATH", help="a file of order ids, one per line")
    reconcile.add_argument(
        "--handler", required=True, metavar="MODULE:ATTRIBUTE", help="the application's paycore.NotificationHandler"
    )
    reconcile.set_defaults(run=_cmd_reconcile)

    demo = commands.add_parser("demo", parents=[common], help="a whole payment round trip on a local sandbox")
    demo.add_argument("--provider", default="juhe", help="a provider that ships a sandbox (default: juhe)")
    demo.add_argument("--async", dest="use_async", action="store_true", help="use AsyncGateway")
    demo.set_defaults(run=_cmd_demo)

    scaffold = commands.add_parser(
        "new-provider", help="generate a provider distribution: pyproject, hooks, settings, sandbox, tests, docs"
    )
    scaffold.add_argument("name", metavar="NAME", help="the provider's entry-point name, e.g. acme")
    scaffold.add_argument(
        "--path",
        metavar="DIR",
        help="where (new or empty; default: providers/NAME if ./providers exists, else ./paycore-NAME)",
    )
    scaffold.set_defaults(run=_cmd_new_provider)

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
    sandbox.set_defaults(run=_cmd_sandbox)
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
        code: int = args.run(args)
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


def _one_line(message: str) -> str:
    return " ".join(message.split())


if __name__ == "__main__":
    sys.exit(main())
