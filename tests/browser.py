"""Headless Chromium for the map tests, with the standard library only.

``dump_dom`` and ``screenshot`` run Chromium once with ``--dump-dom``/``--screenshot``.
``DevTools`` drives one page over the Chrome DevTools Protocol: a minimal WebSocket
client (RFC 6455: masked client frames, no extensions) on a plain socket, enough to
navigate, evaluate JavaScript and collect console errors and network requests.
A missing Chromium raises ``RuntimeError``: the browser tests fail, they never skip.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.settings import SUITE

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--mute-audio",
)


def chromium() -> str:
    """Path of the Chromium binary (``ONEMAP_CHROMIUM`` overrides); error if none."""
    candidates = [SUITE.chromium, *BROWSERS]
    for name in filter(None, candidates):
        if path := shutil.which(name):
            return path
    raise RuntimeError("Chromium not found: apt-get install -y chromium (or set ONEMAP_CHROMIUM)")


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        return subprocess.run(
            [chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )


def dump_dom(path: Path, *, budget_ms: int = 5000, size: tuple[int, int] = (1280, 800)) -> str:
    """The DOM of the page at ``path`` after ``budget_ms`` of virtual time."""
    args = [
        f"--window-size={size[0]},{size[1]}",
        f"--virtual-time-budget={budget_ms}",
        "--dump-dom",
        path.resolve().as_uri(),
    ]
    return _run(args, timeout=120).stdout


def screenshot(
    path: Path, png: Path, *, size: tuple[int, int] = (1280, 800), budget_ms: int = 5000
) -> Path:
    """A PNG of the page at ``path``."""
    _run(
        [
            f"--window-size={size[0]},{size[1]}",
            f"--virtual-time-budget={budget_ms}",
            f"--screenshot={png}",
            path.resolve().as_uri(),
        ],
        timeout=120,
    )
    return png


class _WebSocket:
    """Just enough of RFC 6455 for the DevTools protocol (text frames, no extensions)."""

    def __init__(self, url: str, timeout: float):
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise ConnectionError("DevTools closed the connection during the handshake")
            head += chunk
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(f"WebSocket handshake refused: {head!r}")

    def _exact(self, n: int) -> bytes:
        data = bytearray()
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("DevTools connection closed")
            data += chunk
        return bytes(data)

    def send(self, text: str) -> None:
        payload = text.encode()
        n = len(payload)
        header = bytearray([0x81])  # FIN + text
        if n < 126:
            header.append(0x80 | n)
        elif n < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(bytes(header) + mask + masked)

    def recv(self) -> str:
        message = bytearray()
        while True:
            b0, b1 = self._exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._exact(8))[0]
            mask = self._exact(4) if b1 & 0x80 else None
            payload = self._exact(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            opcode = b0 & 0x0F
            if opcode == 0x8:
                raise ConnectionError("DevTools closed the WebSocket")
            if opcode in (0x9, 0xA):  # ping/pong: not used by Chromium here
                continue
            message += payload
            if b0 & 0x80:
                return message.decode()

    def close(self) -> None:
        self.sock.close()


class DevTools:
    """One headless Chromium page driven over the DevTools protocol.

    Use as a context manager; ``open(path)`` loads a page and returns once ``ready`` (a
    JavaScript expression) is true. ``errors`` collects console errors, uncaught
    exceptions and failed loads; ``requests`` every URL the page asked for; ``received``
    the bytes each finished response took on the wire.
    """

    def __init__(
        self, size: tuple[int, int] = (1280, 800), timeout: float = 60, flags: tuple[str, ...] = ()
    ):
        self.size, self.timeout, self.flags = size, timeout, flags
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.received: list[tuple[str, int]] = []  # (url, bytes over the wire) per response
        self._urls: dict[str, str] = {}
        self._id = 0

    def __enter__(self) -> DevTools:
        self._profile = tempfile.TemporaryDirectory(ignore_cleanup_errors=True)
        self._proc = subprocess.Popen(
            [
                chromium(),
                *FLAGS,
                f"--user-data-dir={self._profile.name}",
                *self.flags,
                "--remote-debugging-port=0",
                f"--window-size={self.size[0]},{self.size[1]}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = Path(self._profile.name) / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self._proc.poll() is not None:
                self.__exit__(None, None, None)
                raise RuntimeError("Chromium did not open its DevTools port")
            time.sleep(0.05)
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            targets = json.load(r)
        page = next(t for t in targets if t["type"] == "page")
        self._ws = _WebSocket(page["webSocketDebuggerUrl"], self.timeout)
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=self.size[0],
            height=self.size[1],
            deviceScaleFactor=1,
            mobile=False,
        )
        return self

    def __exit__(self, *exc: object) -> None:
        if getattr(self, "_ws", None):
            self._ws.close()
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=10)
        # Chromium's helper processes may still be writing the profile for a moment.
        for _ in range(20):
            shutil.rmtree(self._profile.name, ignore_errors=True)
            if not Path(self._profile.name).exists():
                break
            time.sleep(0.1)
        self._profile.cleanup()

    def _event(self, message: dict[str, Any]) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            self.errors.append(f"exception: {text}")
        elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            args = " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
            self.errors.append(f"console.{params['type']}: {args}")
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            entry = params["entry"]
            self.errors.append(f"log: {entry['text']} {entry.get('url', '')}".strip())
        elif method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
            self._urls[params["requestId"]] = params["request"]["url"]
        elif method == "Network.loadingFinished":
            url = self._urls.get(params["requestId"], "")
            self.received.append((url, int(params.get("encodedDataLength", 0))))
        elif method == "Page.loadEventFired":
            self._loaded = True

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one command and return its result (events are recorded meanwhile)."""
        self._id += 1
        self._ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv())
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._event(message)

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression (awaiting promises)."""
        result = self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, path: Path | str, ready: str = "document.readyState === 'complete'") -> None:
        """Load ``path`` (a file, or a URL) and wait until the ``ready`` expression is true."""
        self._loaded = False
        url = path if isinstance(path, str) else path.resolve().as_uri()
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + self.timeout
        # evaluate() first: it also reads the events, among them Page.loadEventFired.
        while not (self.evaluate(f"Boolean({ready})") and self._loaded):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url}: not ready ({ready}) in {self.timeout} s")
            time.sleep(0.1)

    def click(self, x: float, y: float) -> None:
        """A real left click (mouse down and up) at viewport pixel ``(x, y)``."""
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def screenshot(self, png: Path) -> Path:
        """A PNG of the viewport."""
        png.parent.mkdir(parents=True, exist_ok=True)  # when run without the other map tests
        png.write_bytes(base64.b64decode(self.call("Page.captureScreenshot")["data"]))
        return png


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def _unfilter(kind: int, line: bytearray, prev: bytearray, bpp: int) -> bytearray:
    """Undo one PNG row filter (RFC 2083 §6) in place."""
    for i in range(len(line)):
        a = line[i - bpp] if i >= bpp else 0
        b, c = prev[i], prev[i - bpp] if i >= bpp else 0
        predictor = (0, a, b, (a + b) // 2, _paeth(a, b, c))[kind]
        line[i] = (line[i] + predictor) & 0xFF
    return line


def png_rgb(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and RGB rows of an 8-bit, non-interlaced RGB or RGBA PNG
    (what Chromium's screenshots are), with the standard library only."""
    import zlib

    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, width, height, channels = 8, b"", 0, 0, 3
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or colour not in (2, 6) or interlace:
                raise ValueError("only 8-bit non-interlaced RGB(A) PNGs")
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
    raw, stride, rows = zlib.decompress(idat), width * channels, []
    prev = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        line = bytearray(raw[start + 1 : start + 1 + stride])
        prev = _unfilter(raw[start], line, prev, channels)
        rgb = bytes(prev) if channels == 3 else bytes(v for j, v in enumerate(prev) if j % 4 != 3)
        rows.append(rgb)
    return width, height, rows
