"""Step 1: the Tatoeba loader - TSV and zip files, download, cache, checksum (course_lib.data.tatoeba)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
import zipfile
from pathlib import Path

import pytest
from conftest import LARGE, SAMPLE, SHARED_DATA, needs_shared_data

from course_lib import data
from course_lib.data import (
    load_tatoeba,
    read_pairs_tsv,
)
from course_lib.errors import CourseLibError

# --- reading TSV files ----------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_two_and_three_column_layouts(tmp_path):
    two = write(tmp_path / "two.tsv", "Go.\tVa !\nHi.\tSalut !\n")
    three = write(tmp_path / "three.tsv", "Go.\tVa !\tCC-BY 2.0 (France) #1\n\nHi.\tSalut !\tx\n")
    expected = [("Go.", "Va !"), ("Hi.", "Salut !")]
    assert read_pairs_tsv(two) == expected
    assert read_pairs_tsv(str(three)) == expected
    assert load_tatoeba(three) == expected


def test_windows_line_endings_and_byte_order_mark(tmp_path):
    path = tmp_path / "crlf.tsv"
    path.write_bytes("\ufeffGo.\tVa !\r\nHi.\tSalut !\r\n".encode())
    assert read_pairs_tsv(path) == [("Go.", "Va !"), ("Hi.", "Salut !")]


@needs_shared_data
def test_reads_the_real_tatoeba_copies():
    sample = load_tatoeba(SAMPLE)
    large = load_tatoeba(LARGE)
    assert len(sample) == 5000 and len(large) == 58743
    assert sample[0] == ("Go.", "Va !")
    assert all(len(p) == 2 and p[0] and p[1] for p in sample + large)
    assert not any("CC-BY" in french for _, french in sample), "attribution column dropped"


def test_missing_file_is_named(tmp_path):
    missing = tmp_path / "nowhere" / "fra.txt"
    with pytest.raises(CourseLibError, match="corpus file not found: .*nowhere.*fra.txt"):
        read_pairs_tsv(missing)
    with pytest.raises(CourseLibError, match="corpus file not found"):
        load_tatoeba(missing)


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_empty_file_is_named(tmp_path, text):
    path = write(tmp_path / "empty.tsv", text)
    with pytest.raises(CourseLibError, match=r"empty\.tsv: the file is empty"):
        read_pairs_tsv(path)


@pytest.mark.parametrize(
    ("line", "why"),
    [("only one column", "no tab"), ("\tVa !", "no English"), ("Go.\t  ", "no French")],
)
def test_malformed_line_names_file_and_line_number(tmp_path, line, why):
    path = write(tmp_path / "bad.tsv", f"Go.\tVa !\nHi.\tSalut !\n{line}\n")
    with pytest.raises(CourseLibError, match=r"bad\.tsv, line 3: expected 'English<TAB>French'"):
        read_pairs_tsv(path)


def test_binary_or_directory_is_refused_with_the_name(tmp_path):
    path = tmp_path / "image.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    with pytest.raises(CourseLibError, match=r"image\.png: not UTF-8 text"):
        read_pairs_tsv(path)
    with pytest.raises(CourseLibError, match="expected a corpus file, got a directory"):
        read_pairs_tsv(tmp_path)
    with pytest.raises(CourseLibError, match="path must be a str or Path, got int"):
        read_pairs_tsv(3)


def make_zip(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return path


def test_reads_the_anki_zip(tmp_path):
    archive = make_zip(
        tmp_path / "fra-eng.zip",
        {
            "_about.txt": "about the file",
            "fra.txt": "Go.\tVa !\tCC-BY\nRun!\tCours !\tCC-BY\n",
        },
    )
    assert read_pairs_tsv(archive) == [("Go.", "Va !"), ("Run!", "Cours !")]
    single = make_zip(tmp_path / "other.zip", {"pairs.tsv": "Hi.\tSalut !\n"})
    assert read_pairs_tsv(single) == [("Hi.", "Salut !")]


def test_zip_problems_are_named(tmp_path):
    unclear = make_zip(tmp_path / "two.zip", {"a.txt": "x\ty\n", "b.txt": "x\ty\n"})
    with pytest.raises(CourseLibError, match="cannot tell which file in the zip"):
        read_pairs_tsv(unclear)
    assert read_pairs_tsv(unclear, member="b.txt") == [("x", "y")]
    with pytest.raises(CourseLibError, match="no member 'c.txt'"):
        read_pairs_tsv(unclear, member="c.txt")
    broken = make_zip(tmp_path / "broken.zip", {"fra.txt": "Go.\n"})
    with pytest.raises(CourseLibError, match=r"broken\.zip!fra\.txt, line 1"):
        read_pairs_tsv(broken)
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(archive_bytes(tmp_path)[:40])
    with pytest.raises(CourseLibError, match=r"truncated\.zip"):
        read_pairs_tsv(truncated)


def archive_bytes(tmp_path: Path) -> bytes:
    return make_zip(tmp_path / "whole.zip", {"fra.txt": "Go.\tVa !\n" * 50}).read_bytes()


# --- downloading, against a server on 127.0.0.1 ---------------------------------------------


class Server:
    """A static file server on 127.0.0.1 that counts requests."""

    def __init__(self, directory: Path):
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server API
                server.requests += 1
                super().do_GET()

            def log_message(self, *args):
                pass

        self.requests = 0
        handler = functools.partial(Handler, directory=str(directory))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def served(tmp_path):
    """Serves the shared Tatoeba sample (when present) and a zip made here."""
    folder = tmp_path / "www"
    folder.mkdir()
    text = SAMPLE.read_text(encoding="utf-8") if SAMPLE.is_file() else "Go.\tVa !\tCC-BY\n"
    (folder / "sample.tsv").write_text(text, encoding="utf-8")
    make_zip(folder / "fra-eng.zip", {"_about.txt": "x", "fra.txt": text})
    server = Server(folder)
    yield server, folder
    server.close()


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_download_with_the_right_checksum_and_cache(served, tmp_path):
    server, folder = served
    cache = tmp_path / "cache"
    for name in ("sample.tsv", "fra-eng.zip"):
        pairs = load_tatoeba(
            url=f"{server.url}/{name}", sha256=sha(folder / name), cache_dir=cache, progress=False
        )
        assert pairs == read_pairs_tsv(folder / "sample.tsv")
        assert (cache / name).is_file()
    requests = server.requests
    again = load_tatoeba(
        url=f"{server.url}/fra-eng.zip",
        sha256=sha(folder / "fra-eng.zip"),
        cache_dir=cache,
        progress=False,
    )
    assert again == pairs and server.requests == requests, "the cached copy is reused"
    assert not list(cache.glob("*.part"))


@needs_shared_data
def test_download_of_the_shared_sample_matches_the_local_file(tmp_path):
    server = Server(SHARED_DATA)
    try:
        pairs = load_tatoeba(
            url=f"{server.url}/{SAMPLE.name}",
            sha256=sha(SAMPLE),
            cache_dir=tmp_path,
            progress=False,
        )
    finally:
        server.close()
    assert pairs == load_tatoeba(SAMPLE)


def test_checksum_mismatch_is_clear_and_not_cached(served, tmp_path):
    server, _ = served
    cache = tmp_path / "cache"
    wrong = "0" * 64
    with pytest.raises(CourseLibError) as info:
        load_tatoeba(url=f"{server.url}/fra-eng.zip", sha256=wrong, cache_dir=cache, progress=False)
    message = str(info.value)
    assert "checksum mismatch" in message and wrong in message
    assert "load_tatoeba('path/to/" in message, "a local-path hint"
    assert not (cache / "fra-eng.zip").exists() and not list(cache.glob("*.part"))


def test_corrupt_cached_file_is_downloaded_again(served, tmp_path):
    server, folder = served
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "sample.tsv").write_text("garbage", encoding="utf-8")
    pairs = load_tatoeba(
        url=f"{server.url}/sample.tsv",
        sha256=sha(folder / "sample.tsv"),
        cache_dir=cache,
        progress=False,
    )
    assert pairs == read_pairs_tsv(folder / "sample.tsv")
    assert sha(cache / "sample.tsv") == sha(folder / "sample.tsv")


def test_offline_gives_a_local_path_hint(tmp_path):
    server = Server(tmp_path)
    url = f"{server.url}/fra-eng.zip"
    server.close()  # nothing listens on that port any more
    with pytest.raises(CourseLibError) as info:
        load_tatoeba(url=url, cache_dir=tmp_path / "cache", progress=False)
    message = str(info.value)
    assert f"could not download {url}" in message and "offline" in message
    assert "load_tatoeba('path/to/fra-eng.zip')" in message


def test_missing_remote_file_is_reported(served, tmp_path):
    server, _ = served
    with pytest.raises(CourseLibError, match="could not download .*nothing.zip: HTTP 404"):
        load_tatoeba(url=f"{server.url}/nothing.zip", cache_dir=tmp_path, progress=False)


def test_without_checksum_the_digest_is_printed(served, tmp_path, capsys, monkeypatch):
    server, folder = served
    monkeypatch.setenv("COURSE_LIB_CACHE", str(tmp_path / "env-cache"))
    pairs = load_tatoeba(url=f"{server.url}/sample.tsv", sha256=None)
    assert pairs == read_pairs_tsv(folder / "sample.tsv")
    assert sha(folder / "sample.tsv") in capsys.readouterr().out
    assert (tmp_path / "env-cache" / "sample.tsv").is_file(), "$COURSE_LIB_CACHE is the default"


def test_bad_download_arguments(tmp_path):
    with pytest.raises(CourseLibError, match="sha256 must be 64 hex digits"):
        load_tatoeba(url="http://127.0.0.1:9/x.zip", sha256="abc", cache_dir=tmp_path)
    with pytest.raises(CourseLibError, match="expected a URL"):
        load_tatoeba(url="fra-eng.zip", cache_dir=tmp_path)


def test_default_cache_dir(monkeypatch):
    monkeypatch.delenv("COURSE_LIB_CACHE", raising=False)
    assert data.default_cache_dir() == Path.home() / ".cache" / "course_lib"
    monkeypatch.setenv("COURSE_LIB_CACHE", "/tmp/somewhere")
    assert data.default_cache_dir() == Path("/tmp/somewhere")


def test_local_tatoeba_path(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_LIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("COURSE_LIB_TATOEBA", raising=False)
    assert data.local_tatoeba_path() is None
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "fra-eng.zip").write_bytes(b"x")
    assert data.local_tatoeba_path() == tmp_path / "cache" / "fra-eng.zip"
    named = write(tmp_path / "mine.tsv", "Go.\tVa !\n")
    monkeypatch.setenv("COURSE_LIB_TATOEBA", str(named))
    assert data.local_tatoeba_path() == named
    monkeypatch.setenv("COURSE_LIB_TATOEBA", str(tmp_path / "absent.tsv"))
    assert data.local_tatoeba_path() == tmp_path / "cache" / "fra-eng.zip"


def test_truncated_download_is_refused_and_not_cached(tmp_path):
    """A server that promises more bytes than it sends and closes: a clear error, no cache."""

    class Truncating(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"x" * 100)
            self.close_connection = True

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Truncating)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/fra-eng.zip"
        with pytest.raises(CourseLibError, match="could not download"):
            data.download(url, cache_dir=tmp_path, progress=False)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert not (tmp_path / "fra-eng.zip").exists()
    assert not (tmp_path / "fra-eng.zip.part").exists()
