"""The real corpus: Tatoeba English-French pairs, read from a local file or downloaded and cached.

The Anki "fra-eng" export (CC-BY 2.0 FR, https://tatoeba.org) is a zip holding a TSV of
``English<TAB>French<TAB>attribution`` lines. :func:`load_tatoeba` reads a local copy, or
downloads it once into a cache (``$COURSE_LIB_CACHE`` or ``~/.cache/course_lib``), checking
its SHA-256 when one is pinned and printing it when none is. :func:`read_pairs_tsv` reads
any such TSV (or zip) of your own.
"""

from __future__ import annotations

import http.client
import io
import os
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from tqdm.auto import tqdm

from course_lib.data.pairs import Pair
from course_lib.errors import CourseLibError
from course_lib.files import sha256_of

TATOEBA_URL = "https://www.manythings.org/anki/fra-eng.zip"
# The Anki export is regenerated from Tatoeba every few months, so no checksum of it stays
# valid for long. ``None`` means "not verified": load_tatoeba prints the SHA-256 of what it
# downloaded so you can pin it (pass sha256=...) for a reproducible experiment.
TATOEBA_SHA256: str | None = None
TATOEBA_MEMBER = "fra.txt"
_USER_AGENT = "course-lib (The Transformer, Step by Step; +https://github.com/transformer-step-by-step/course)"


def _read_text(path: Path, member: str | None = None) -> tuple[str, str]:
    """The text of a TSV file, or of the TSV inside a zip; returns (text, name for messages)."""
    if not path.exists():
        raise CourseLibError(f"corpus file not found: {path}")
    if path.is_dir():
        raise CourseLibError(f"expected a corpus file, got a directory: {path}")
    data = path.read_bytes()
    name = str(path)
    if zipfile.is_zipfile(io.BytesIO(data)):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = [n for n in archive.namelist() if not n.endswith("/")]
                if member is None:
                    tables = [
                        n
                        for n in names
                        if n.endswith((".txt", ".tsv")) and not Path(n).name.startswith("_")
                    ]
                    if TATOEBA_MEMBER in names:
                        member = TATOEBA_MEMBER
                    elif len(tables) == 1:
                        member = tables[0]
                    else:
                        raise CourseLibError(
                            f"{path}: cannot tell which file in the zip holds the pairs "
                            f"(found {names}); pass member=..."
                        )
                if member not in names:
                    raise CourseLibError(f"{path}: no member {member!r} in the zip (found {names})")
                data = archive.read(member)
                name = f"{path}!{member}"
        except zipfile.BadZipFile as error:
            raise CourseLibError(f"{path}: corrupt zip file ({error})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CourseLibError(
            f"{name}: not UTF-8 text (bad byte at offset {error.start}); is it the right file?"
        ) from None
    return text, name


def _parse_pairs(text: str, name: str) -> list[Pair]:
    pairs: list[Pair] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        english = fields[0].strip()
        french = fields[1].strip() if len(fields) > 1 else ""
        if len(fields) < 2 or not english or not french:
            raise CourseLibError(
                f"{name}, line {number}: expected 'English<TAB>French' (optionally "
                f"<TAB>attribution), got {line[:80]!r}"
            )
        pairs.append((english, french))
    if not pairs:
        raise CourseLibError(f"{name}: the file is empty (no sentence pairs)")
    return pairs


def read_pairs_tsv(path: str | Path, member: str | None = None) -> list[Pair]:
    """Read ``English<TAB>French[<TAB>anything...]`` lines (UTF-8) into a list of pairs.

    Both Tatoeba layouts work: two columns, or three with the attribution (ignored).
    ``path`` may also be a zip holding such a file (``fra.txt`` in the Anki export, or the
    only ``.txt``/``.tsv`` member; ``member`` names another). Blank lines are skipped.

    Raises :class:`CourseLibError` naming the file for a missing, empty, corrupt or
    non-UTF-8 file, and the line number for a line without two non-empty columns.
    """
    if not isinstance(path, (str, Path)):
        raise CourseLibError(
            f"read_pairs_tsv: path must be a str or Path, got {type(path).__name__}"
        )
    text, name = _read_text(Path(path).expanduser(), member)
    return _parse_pairs(text, name)


def default_cache_dir() -> Path:
    """``$COURSE_LIB_CACHE`` if set, else ``~/.cache/course_lib``."""
    return Path(os.environ.get("COURSE_LIB_CACHE") or Path.home() / ".cache" / "course_lib")


_OFFLINE_HINT = (
    "Download it on a machine with internet access (or from a mirror), then pass the local "
    "file: load_tatoeba('path/to/fra-eng.zip') or load_tatoeba('path/to/fra.txt')."
)


def download(
    url: str,
    *,
    sha256: str | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    timeout: float = 30.0,
) -> Path:
    """Download ``url`` into the cache (once) and return the cached file's path.

    A cached copy is reused when its SHA-256 matches ``sha256`` (or when no checksum is
    given). A new download is written to a temporary file and moved into place only after
    its checksum matched, so a failed or corrupt download never poisons the cache.
    When ``sha256`` is None the digest of the download is printed so it can be pinned.
    """
    if not isinstance(url, str) or "://" not in url:
        raise CourseLibError(f"download: expected a URL such as https://..., got {url!r}")
    if sha256 is not None:
        sha256 = sha256.strip().lower()
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise CourseLibError(f"download: sha256 must be 64 hex digits, got {sha256!r}")
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    filename = url.rstrip("/").rsplit("/", 1)[-1].split("?")[0] or "download"
    target = folder / filename
    if target.is_file() and (sha256 is None or sha256_of(target) == sha256):
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CourseLibError(f"cannot create the cache directory {folder}: {error}") from None
    partial = folder / (filename + ".part")
    try:
        request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
        with (
            urllib.request.urlopen(request, timeout=timeout) as response,
            open(partial, "wb") as handle,
        ):
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(
                total=total, unit="B", unit_scale=True, desc=filename, disable=not progress
            ) as bar:
                for block in iter(lambda: response.read(1 << 16), b""):
                    handle.write(block)
                    bar.update(len(block))
            received = handle.tell()
    except urllib.error.HTTPError as error:  # the server answered, with an error
        partial.unlink(missing_ok=True)
        raise CourseLibError(
            f"could not download {url}: HTTP {error.code} {error.reason}. {_OFFLINE_HINT}"
        ) from None
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
        partial.unlink(missing_ok=True)
        reason = getattr(error, "reason", None) or error
        raise CourseLibError(
            f"could not download {url}: {reason}. Are you offline? {_OFFLINE_HINT}"
        ) from None
    # A server that closes the connection early may raise nothing: compare with what it
    # promised, so a truncated file never enters the cache as if it were complete.
    if total is not None and received != total:
        partial.unlink(missing_ok=True)
        raise CourseLibError(
            f"could not download {url}: the transfer stopped after {received:,} of "
            f"{total:,} bytes. Try again. {_OFFLINE_HINT}"
        )
    digest = sha256_of(partial)
    if sha256 is not None and digest != sha256:
        partial.unlink(missing_ok=True)
        raise CourseLibError(
            f"checksum mismatch for {url}: expected SHA-256 {sha256}, got {digest}. The file "
            f"may be corrupt or the server may have published a new version. {_OFFLINE_HINT} "
            "Or pass sha256=None to accept the new file (it will print the new checksum)."
        )
    partial.replace(target)
    if sha256 is None and progress:
        print(f"Downloaded {url} to {target}\nSHA-256 {digest} (pass sha256=... to pin it)")
    return target


def local_tatoeba_path() -> Path | None:
    """A Tatoeba file already on this machine, or None: ``$COURSE_LIB_TATOEBA`` if it names
    an existing file, else the cached download of :data:`TATOEBA_URL`. Never downloads."""
    named = os.environ.get("COURSE_LIB_TATOEBA")
    if named and Path(named).expanduser().is_file():
        return Path(named).expanduser()
    cached = default_cache_dir() / TATOEBA_URL.rsplit("/", 1)[-1]
    return cached if cached.is_file() else None


def load_tatoeba(
    path: str | Path | None = None,
    *,
    url: str = TATOEBA_URL,
    sha256: str | None = TATOEBA_SHA256,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> list[Pair]:
    """The Tatoeba English-French pairs (CC-BY 2.0 FR, https://tatoeba.org).

    With ``path``: read that local file (a 2- or 3-column TSV, or the Anki zip).
    Without: download ``url`` (the Anki "fra-eng" zip by default) into ``cache_dir``
    (default ``$COURSE_LIB_CACHE`` or ``~/.cache/course_lib``), check its SHA-256 when
    ``sha256`` is given, and read it. Offline or on a checksum mismatch the error says
    how to pass a local file instead.

    Returns a list of ``(english, french)`` pairs in file order (the export is sorted by
    length, shortest first; one English sentence may have several translations).
    """
    if path is None:
        path = download(url, sha256=sha256, cache_dir=cache_dir, progress=progress)
    return read_pairs_tsv(path)


__all__ = [
    "TATOEBA_SHA256",
    "TATOEBA_URL",
    "default_cache_dir",
    "download",
    "load_tatoeba",
    "local_tatoeba_path",
    "read_pairs_tsv",
    "sha256_of",
]
