"""The embedded model server never outlives the process that started it (``local._tied``).

A parent process starts a child through ``popen_tied`` (as ``LocalServer`` starts
``llama-server``) and is then killed by SIGTERM, SIGINT or SIGKILL: the child ends too. A
child started from a worker thread that has finished is still alive (the parent-death signal
is bound to the spawner thread, not the caller's). Exits are awaited with a pidfd, not polled.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import subagents.local._server as server_module
from subagents.local import LocalServer
from subagents.local._tied import TIED

pytestmark = pytest.mark.skipif(not TIED, reason="the parent-death signal is Linux only")

BOUND = 20.0

CHILD = """
import signal, sys, threading
signal.signal(signal.SIGTERM, lambda *_: (print("SIGTERM", flush=True), sys.exit(0)))
sys.stdin.readline()
print("alive", flush=True)
threading.Event().wait()  # forever: nothing here ends with the parent but the signal
"""

PARENT = """
import subprocess, sys, threading
from subagents.local._tied import popen_tied
box = []
def start():
    box.append(popen_tied([sys.executable, "-c", sys.argv[1]], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE))
if sys.argv[2] == "thread":
    worker = threading.Thread(target=start)
    worker.start()
    worker.join()   # the thread that asked for the child has ended
else:
    start()
child = box[0]
print(child.pid, flush=True)
child.stdin.write(b"ping\\n"); child.stdin.flush()
print(child.stdout.readline().decode().strip(), flush=True)
sys.stdin.read()    # until the test kills this process
"""

SERVER_PARENT = """
import sys
from subagents.local import LocalServer
server = LocalServer("1.5b").start()
print(server.pid, flush=True)
sys.stdin.read()
"""


def exited(pid: int, timeout: float = BOUND) -> bool:
    """Whether process ``pid`` ends within ``timeout`` seconds (waits on a pidfd)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
        return bool(ready)
    finally:
        os.close(fd)


def start_parent(script: str, *args: str) -> subprocess.Popen[bytes]:
    """Start a parent process with SIGINT at its default, as in a user's terminal.

    A shell that runs the suite in the background (``make test &``, CI runners) starts it
    with SIGINT ignored, and a child inherits that: its Python would never see Ctrl-C.
    """
    return subprocess.Popen([sys.executable, "-c", script, *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, preexec_fn=_default_sigint)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("how", ["caller", "thread"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL],
                         ids=["SIGTERM", "SIGINT", "SIGKILL"])
def test_a_tied_child_dies_with_its_parent(sig: signal.Signals, how: str) -> None:
    parent = start_parent(PARENT, CHILD, how)
    assert parent.stdout is not None
    try:
        child = int(parent.stdout.readline())
        assert parent.stdout.readline().strip() == b"alive"  # survived its thread's end
        parent.send_signal(sig)
        parent.wait(BOUND)
        assert exited(child), "the child outlived its parent"
    finally:
        parent.kill()
        parent.wait(BOUND)


@pytest.mark.real_model
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_llama_server_stops_when_its_python_process_is_killed(sig: signal.Signals) -> None:
    parent = start_parent(SERVER_PARENT)
    assert parent.stdout is not None
    try:
        line = parent.stdout.readline()
        assert line.strip(), "the local server did not start"
        server = int(line)
        parent.send_signal(sig)
        parent.wait(BOUND)
        assert exited(server), "llama-server outlived the process that started it"
    finally:
        parent.kill()
        parent.wait(BOUND)


FAKE_SERVER = """#!{python}
import http.server, os, signal, sys
if "--no-repack" not in sys.argv:
    os.kill(os.getpid(), signal.SIGSEGV)  # as llama.cpp's AMX repacking does on some VMs
port = int(sys.argv[sys.argv.index("--port") + 1])

class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{{}}")

    def log_message(self, *args):
        pass

http.server.HTTPServer(("127.0.0.1", port), Health).serve_forever()
"""


def test_a_server_crashing_while_it_warms_up_is_started_again_without_repacking(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    binary = tmp_path / "llama-server"
    binary.write_text(FAKE_SERVER.format(python=sys.executable))
    binary.chmod(0o755)
    monkeypatch.setattr(server_module, "find_server_binary", lambda: binary)
    weights = tmp_path / "model.gguf"
    weights.write_bytes(b"GGUF")
    server = LocalServer("1.5b", model_file=weights, log_path=tmp_path / "log")
    with server:
        assert server.is_running() and server.extra_args == ("--no-repack",)
        pid = server.pid
    assert pid is not None and exited(pid)
