"""``python -m partner_sync.sandbox serve [...]``: run the three emulators until stopped."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

import uvicorn

from partner_sync.sandbox.core import Emulator


def build_emulators(rate_limits: bool) -> dict[str, Emulator]:
    from partner_sync.sandbox.hubspot import HubSpotEmulator
    from partner_sync.sandbox.partner_center import PartnerCenterEmulator
    from partner_sync.sandbox.partner_central import PartnerCentralEmulator

    return {
        "hubspot": HubSpotEmulator(rate_limits=rate_limits),
        "partner_center": PartnerCenterEmulator(rate_limits=rate_limits),
        "partner_central": PartnerCentralEmulator(rate_limits=rate_limits),
    }


async def serve(host: str, ports: dict[str, int], seed: str, rate_limits: bool) -> None:
    emulators = build_emulators(rate_limits)
    if seed == "demo":
        for emulator in emulators.values():
            emulator.seed_demo()
    servers = []
    for name, emulator in emulators.items():
        config = uvicorn.Config(
            emulator.app, host=host, port=ports[name], log_level="warning", access_log=False,
            timeout_keep_alive=30,
        )
        server = uvicorn.Server(config)
        server.install_signal_handlers = lambda: None  # one handler for all three, below
        servers.append(server)

    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server in servers:
            server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    tasks = [asyncio.create_task(s.serve()) for s in servers]
    while not all(s.started for s in servers):
        if any(t.done() for t in tasks):
            stop()
            break
        await asyncio.sleep(0.05)
    else:
        print(
            "sandbox ready: "
            + " ".join(f"{name}=http://{host}:{ports[name]}" for name in emulators),
            flush=True,
        )
    results = await asyncio.gather(*tasks, return_exceptions=True)
    if any(not s.started for s in servers):
        print(f"sandbox failed to start: {results}", file=sys.stderr, flush=True)
        raise SystemExit(1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m partner_sync.sandbox")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="run the three emulators until SIGTERM or Ctrl+C")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--hubspot-port", type=int, default=8701)
    p.add_argument("--partner-center-port", type=int, default=8702)
    p.add_argument("--partner-central-port", type=int, default=8703)
    p.add_argument("--seed", choices=["demo", "empty"], default="demo")
    p.add_argument("--rate-limits", choices=["on", "off"], default="on")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    ports = {
        "hubspot": args.hubspot_port,
        "partner_center": args.partner_center_port,
        "partner_central": args.partner_central_port,
    }
    asyncio.run(serve(args.host, ports, args.seed, args.rate_limits == "on"))


if __name__ == "__main__":
    main()
