"""A real SMTP server on loopback that keeps only what the benchmark counts.

Run as ``python -m bench.smtp_sink PORT OUT``: aiosmtpd accepts every message,
remembers its Message-ID, and on SIGTERM writes the list to OUT as JSON. It runs
in a process of its own so that its work never shares a core's time with the
sender being measured more than the operating system decides.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys

from aiosmtpd.controller import Controller

_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


class Counter:
    def __init__(self) -> None:
        self.ids: list[str] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        header = envelope.original_content.split(b"\r\n\r\n", 1)[0]
        match = _MESSAGE_ID.search(header)
        self.ids.append(match.group(1).decode() if match else "")
        return "250 OK"


def main() -> None:
    port, out = int(sys.argv[1]), sys.argv[2]
    handler = Counter()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.run_until_complete(stop.wait())
    controller.stop()
    with open(out, "w") as file:
        json.dump(handler.ids, file)


if __name__ == "__main__":
    main()
