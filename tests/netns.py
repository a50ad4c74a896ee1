"""Separate hosts for tests: Linux network namespaces joined by a private bridge.

Each host ``algo-i`` is a namespace with its own ``eth0`` and address; the bridge lives in
a namespace of its own (so the machine's firewall and Docker's rules never see the
traffic), and ``/etc/netns/<namespace>/hosts`` gives every host the ``algo-N`` names.
Names carry a random tag, so parallel test runs never collide; everything is removed on
exit, also after a failure. Needs root.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
from pathlib import Path

NETNS_ETC = Path("/etc/netns")


def available() -> str | None:
    """Why network namespaces cannot be used here, or None when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root (CI runs as root)"
    if shutil.which("ip") is None:
        return "the ip tool (iproute2) is missing; scripts/setup.sh installs it"
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


class Network:
    """``count`` hosts ``algo-1`` .. ``algo-count`` on one private /24 network."""

    def __init__(self, count: int) -> None:
        self.tag = f"xd{os.getpid() % 100000}{random.randrange(16**4):04x}"
        self.subnet = f"10.{random.randrange(64, 250)}.{random.randrange(1, 250)}"
        self.hosts = [f"algo-{i}" for i in range(1, count + 1)]
        self.switch = f"{self.tag}-sw"
        self.processes: list[subprocess.Popen] = []

    def namespace(self, host: str) -> str:
        return f"{self.tag}-{host}"

    def address(self, host: str) -> str:
        return f"{self.subnet}.{self.hosts.index(host) + 1}"

    def veth(self, host: str) -> str:
        """The switch side of ``host``'s cable (``ip -n SWITCH link set ... down`` cuts it)."""
        return f"v{self.hosts.index(host) + 1}"

    def __enter__(self) -> Network:
        try:
            self._create()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _create(self) -> None:
        _ip("netns", "add", self.switch)
        _ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.switch, "link", "set", "br0", "up")
        names = "\n".join(f"{self.address(h)} {h}" for h in self.hosts)
        for host in self.hosts:
            ns, veth = self.namespace(host), self.veth(host)
            _ip("netns", "add", ns)
            _ip("-n", self.switch, "link", "add", veth, "type", "veth", "peer", "eth0", "netns", ns)
            _ip("-n", self.switch, "link", "set", veth, "master", "br0", "up")
            _ip("-n", ns, "addr", "add", f"{self.address(host)}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", ns, "link", "set", "lo", "up")
            etc = NETNS_ETC / ns
            etc.mkdir(parents=True, exist_ok=True)
            (etc / "hosts").write_text(f"127.0.0.1 localhost\n{names}\n")

    def popen(self, host: str, argv: list[str], **kwargs: object) -> subprocess.Popen:
        """Start ``argv`` inside ``host``'s namespace, in its own process group."""
        process = subprocess.Popen(
            ["ip", "netns", "exec", self.namespace(host), *argv],
            start_new_session=True,
            **kwargs,  # type: ignore[arg-type]
        )
        self.processes.append(process)
        return process

    def cut(self, host: str) -> None:
        """Pull ``host``'s cable: its packets are dropped, no connection is reset."""
        _ip("-n", self.switch, "link", "set", self.veth(host), "down")

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for ns in [self.namespace(h) for h in self.hosts] + [self.switch]:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
            shutil.rmtree(NETNS_ETC / ns, ignore_errors=True)
