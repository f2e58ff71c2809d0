"""A GTP client for an engine in a subprocess, with a timeout on every answer, and where to find GNU Go."""

from __future__ import annotations

import os
import queue
import shlex
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from qstar.core.errors import QstarError

GNUGO_FALLBACK = "/usr/games/gnugo"  # Debian's package puts it here, outside root's default PATH


class EngineError(QstarError):
    """The engine answered ``? reason``."""


class EngineDied(QstarError):
    """The engine exited, closed its output, or did not answer in time."""


def find_gnugo() -> str | None:
    """Path of the gnugo binary: on PATH, else /usr/games/gnugo; None if absent
    (``scripts/install_gnugo.sh`` installs it)."""
    found = shutil.which("gnugo")
    if found:
        return found
    return GNUGO_FALLBACK if os.access(GNUGO_FALLBACK, os.X_OK) else None


def engine_argv(command: str, size: int | None = None) -> list[str]:
    """Turn a player spec into an argv. ``qstar`` or ``qstar gtp ...`` runs this qstar; a path to a checkpoint runs
    ``qstar gtp --model PATH``; anything else is a command line (``gnugo`` found even outside PATH)."""
    words = shlex.split(command)
    if not words:
        raise QstarError("empty engine command; give a GTP command line such as 'gnugo --mode gtp --level 1'")
    sized = ["--size", str(size)] if size else []
    if len(words) == 1 and words[0].endswith(".safetensors"):
        words = ["qstar", "gtp", "--model", words[0]] + sized
    elif words == ["qstar"]:
        words = ["qstar", "gtp"] + sized
    if words[0] == "qstar" and shutil.which("qstar") is None:
        words = [sys.executable, "-m", "qstar.cli"] + words[1:]
    if words[0] == "gnugo" and shutil.which("gnugo") is None:
        words[0] = find_gnugo() or "gnugo"
    return words


class GtpClient:
    """Talks GTP to one engine process. ``send`` returns the answer text or raises EngineError / EngineDied."""

    def __init__(self, command: str | list[str], timeout: float = 60.0, name: str | None = None):
        self.argv = command if isinstance(command, list) else engine_argv(command)
        self.timeout = timeout
        self.name = name or Path(self.argv[0]).name
        try:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, text=True, bufsize=1)
        except OSError as e:
            raise EngineDied(f"cannot start engine {shlex.join(self.argv)}: {e.strerror}") from None
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, command: str, timeout: float | None = None) -> str:
        """Send one command and wait for its answer (up to ``timeout`` seconds, default the client's)."""
        if not self.alive:
            raise EngineDied(f"{self.name} has exited (code {self.proc.returncode})")
        try:
            self.proc.stdin.write(command.strip() + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise EngineDied(f"{self.name} closed its input") from None
        wait = self.timeout if timeout is None else timeout
        answer: list[str] = []
        while True:
            try:
                line = self.lines.get(timeout=wait)
            except queue.Empty:
                self.close()
                raise EngineDied(f"{self.name} did not answer {command.split()[0]!r} within {wait:g} s") from None
            if line is None:
                raise EngineDied(f"{self.name} exited while answering {command.split()[0]!r}")
            line = line.rstrip("\r\n")
            if not answer and not line.strip():
                continue  # blank lines before an answer
            if answer and not line.strip():
                break
            answer.append(line)
        head = answer[0]
        text = "\n".join([head[1:].lstrip("0123456789").strip()] + answer[1:]).strip()
        if head.startswith("?"):
            raise EngineError(f"{self.name}: {command.split()[0]}: {text}")
        if not head.startswith("="):
            raise EngineError(f"{self.name} answered {head!r}, not GTP")
        return text

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> GtpClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
