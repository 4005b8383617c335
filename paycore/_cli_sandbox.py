"""``paycore demo``, ``paycore sandbox`` and ``paycore new-provider``: local sandboxes, and a new provider."""

from __future__ import annotations

import argparse
import contextlib
import signal
from pathlib import Path

from paycore._cli_output import toml_value
from paycore._demo import run_demo
from paycore._scaffold import default_target
from paycore._scaffold import new_provider as scaffold_provider
from paycore.sandbox import PUBLIC_SANDBOX_KEY, SandboxOptions, make_sandbox

__all__ = ["demo", "new_provider", "sandbox"]


def demo(args: argparse.Namespace) -> int:
    run_demo(args.provider, use_async=args.use_async, say=lambda line: print(line, flush=True))
    return 0


def new_provider(args: argparse.Namespace) -> int:
    target = Path(args.path) if args.path else default_target(args.name, Path.cwd())
    written = scaffold_provider(args.name, target)
    print(f"created the {args.name!r} provider in {target}:")
    for path in written:
        print(f"  {path}")
    print(
        f"next: pip install -e '{target}[test]' && pytest {target / 'tests'}  "
        "(the conformance suite says which hook to write next; see docs/authoring.md)"
    )
    return 0


def sandbox(args: argparse.Namespace) -> int:
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
        certificates=args.certificates,
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
    lines += ["Paste into paycore.toml:", "", "[accounts.sandbox]", f"provider = {toml_value(args.provider)}"]
    for key, value in sandbox.account_settings().items():
        if args.secret_key is not None and value == args.secret_key:
            # A key the user chose is theirs: never printed.
            lines.append(f"# {key}: the value you passed with --secret-key (or set PAYCORE_SANDBOX_{key.upper()})")
        elif value == PUBLIC_SANDBOX_KEY:
            lines.append(f"{key} = {toml_value(value)}  # the public sandbox test key")
        else:
            lines.append(f"{key} = {toml_value(value)}")
    # SIGTERM (systemd, docker stop, kill) ends the process without unwinding: the sandbox's files (Alipay's
    # generated keys) would stay behind. Taken as Ctrl-C, it stops the sandbox as Ctrl-C does. SIGINT too,
    # explicitly: a shell starts a background job with SIGINT ignored, and then nothing could stop it cleanly.
    # Installed before the block is printed: whoever reads it may stop the sandbox at once.
    previous = {number: signal.signal(number, _interrupt) for number in (signal.SIGINT, signal.SIGTERM)}
    serving = False
    try:
        with contextlib.suppress(KeyboardInterrupt):
            print("\n".join(lines), flush=True)
            serving = True
            sandbox.serve_forever()  # removes what the sandbox made when it returns
    finally:
        if not serving:
            sandbox.stop()
        for number, handler in previous.items():
            signal.signal(number, handler)
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
