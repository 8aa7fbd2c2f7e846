"""Step 1: the bundled grammar corpus, the Tatoeba loader (local and download), grouped splits."""

from __future__ import annotations

import functools
import hashlib
import http.server
import random
import threading
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT

from course_lib import data
from course_lib.data import (
    ANCHOR_SENTENCES,
    grammar_sentences,
    group_references,
    leaked_sources,
    load_tatoeba,
    make_toy_corpus,
    read_pairs_tsv,
    split_by_source,
    word_counts,
)
from course_lib.errors import CourseLibError
from course_lib.tokenize import tokenize_en, tokenize_fr

SHARED_DATA = ROOT.parent / "shared" / "data"
SAMPLE = SHARED_DATA / "tatoeba-eng-fra-sample.tsv"  # English<TAB>French<TAB>attribution
LARGE = SHARED_DATA / "tatoeba-eng-fra-large.tsv"  # English<TAB>French

needs_shared_data = pytest.mark.skipif(
    not SAMPLE.is_file() or not LARGE.is_file(),
    reason=f"the Tatoeba test copies are not in {SHARED_DATA}",
)


@pytest.fixture(scope="module")
def corpus() -> data.ToyCorpus:
    return make_toy_corpus(0)


# --- the bundled corpus ---------------------------------------------------------------------


def test_same_seed_gives_the_identical_corpus():
    first, second = make_toy_corpus(0), make_toy_corpus(0)
    assert first.train == second.train
    assert first.valid == second.valid
    assert first.test == second.test
    assert first.generalisation == second.generalisation
    assert first.held_out_combinations == second.held_out_combinations
    assert first.description == second.description


def test_identical_in_a_fresh_grammar_cache():
    before = make_toy_corpus(3)
    data._all_sentences.cache_clear()
    after = make_toy_corpus(3)
    assert before.pairs == after.pairs


def test_other_seed_holds_out_other_combinations_but_always_hate_pizza():
    held = [set(make_toy_corpus(seed).held_out_combinations) for seed in range(4)]
    assert all(("hate", "pizza") in h for h in held)
    assert len({frozenset(h) for h in held}) == 4


def test_held_out_combinations_never_appear_in_train_or_valid(corpus):
    held = set(corpus.held_out_combinations)
    by_english = {s.english: s for s in corpus.sentences}
    for english, _ in corpus.train + corpus.valid:
        info = by_english[english]
        assert (info.verb, info.noun) not in held, english
    for english, _ in corpus.test:
        info = by_english[english]
        assert (info.verb, info.noun) in held, english


def test_hate_pizza_is_only_in_test_checked_on_the_words(corpus):
    assert ("I hate pizza", "Je déteste la pizza") in corpus.test
    for english, french in corpus.train + corpus.valid:
        words = tokenize_en(english)
        assert not ({"hate", "hates"} & set(words) and "pizza" in words), english
        assert not ("déteste" in french.lower() and "pizza" in french), french


def test_about_ten_percent_of_combinations_are_held_out(corpus):
    total = len(data.verb_noun_combinations())
    assert abs(len(corpus.held_out_combinations) - 0.10 * total) <= 1
    assert len(set(corpus.held_out_combinations)) == len(corpus.held_out_combinations)


def test_generalisation_is_a_construction_never_seen_in_training(corpus):
    assert corpus.generalisation_verb == "drink"
    assert len(corpus.generalisation) == 200, "every negated 'drink' the grammar writes"
    for english, french in corpus.generalisation:
        assert "don't drink" in english or "doesn't drink" in english, english
        assert " ne " in f" {french.lower()} " and " pas " in french, french
    for english, _ in corpus.train + corpus.valid + corpus.test:
        assert "don't drink" not in english and "doesn't drink" not in english, english
    # ... while "drink" (affirmative) and negation (other verbs) are both in training.
    assert any(" drink" in e for e, _ in corpus.train)
    assert any("don't" in e for e, _ in corpus.train)


def test_running_examples_are_in_the_corpus_with_the_right_french(corpus):
    pairs = dict(corpus.pairs)
    assert pairs["I love pizza"] == "J'aime la pizza"
    assert ("I love pizza", "J'aime la pizza") in corpus.train + corpus.valid
    assert pairs["I don't like pizza"] == "Je n'aime pas la pizza"
    assert pairs["He doesn't eat bread"] == "Il ne mange pas de pain"
    assert pairs["I see the red car"] == "Je vois la voiture rouge"
    assert all(sentence in pairs for sentence in ANCHOR_SENTENCES)


@pytest.mark.parametrize(
    ("english", "french"),
    [
        ("We eat pizza", "Nous mangeons de la pizza"),
        ("She drinks water", "Elle boit de l'eau"),
        ("She doesn't drink water", "Elle ne boit pas d'eau"),
        ("I buy a red car", "J'achète une voiture rouge"),
        ("They (f) don't have a car", "Elles n'ont pas de voiture"),
        ("You all want the big car", "Vous voulez la grande voiture"),
        ("He likes the small computer", "Il aime bien le petit ordinateur"),
        ("I see the bird", "Je vois l'oiseau"),
        ("I eat an egg", "Je mange un œuf"),
        ("We drink cold water", "Nous buvons de l'eau froide"),
        ("I don't eat apples", "Je ne mange pas de pommes"),
        ("They love horses", "Ils aiment les chevaux"),
        ("You prefer white wine", "Tu préfères le vin blanc"),
        ("They (f) prefer small apples", "Elles préfèrent les petites pommes"),
        ("He doesn't have red bikes", "Il n'a pas de vélos rouges"),
        ("You don't hate the black cat", "Tu ne détestes pas le chat noir"),
        ("I hate pizza", "Je déteste la pizza"),
        ("They take the newspapers", "Ils prennent les journaux"),
        ("You all write a letter", "Vous écrivez une lettre"),
        ("She buys white bread", "Elle achète du pain blanc"),
        ("I like white houses", "J'aime bien les maisons blanches"),
    ],
)
def test_grammar_writes_correct_french(english, french):
    translations = {s.english: s.french for s in grammar_sentences()}
    assert translations[english] == french


def test_every_french_subject_and_person_appears(corpus):
    first_words = {tokenize_fr(french)[0] for _, french in corpus.pairs}
    assert {"je", "j'", "tu", "il", "elle", "nous", "vous", "ils", "elles"} <= first_words


def test_size_vocabulary_and_shape_of_the_corpus(corpus):
    assert 3000 <= len(corpus.pairs) <= 8000
    english = {t for e, _ in corpus.pairs for t in tokenize_en(e)}
    french = {t for _, f in corpus.pairs for t in tokenize_fr(f)}
    assert 100 <= len(english) <= 300 and 100 <= len(french) <= 300
    sources = [e for e, _ in corpus.pairs]
    assert len(sources) == len(set(sources)), "each English sentence once"
    assert 0.03 <= len(corpus.valid) / (len(corpus.train) + len(corpus.valid)) <= 0.07
    for english, french in corpus.pairs:
        assert english[0].isupper() and french[0].isupper()
        assert english[-1].isalpha() and french[-1].isalpha(), "no final punctuation"
    assert "6000" in corpus.description and "hate" in corpus.description


def test_grammar_sentences_are_generated_once_and_reused():
    """Corpora for several seeds share one generated sentence list (how fast that is, is the
    benchmarks' business, not a test's)."""
    data._all_sentences.cache_clear()
    make_toy_corpus(5)
    first = data._all_sentences.cache_info()
    make_toy_corpus(6)
    second = data._all_sentences.cache_info()
    assert first.misses == 1
    assert second.misses == 1 and second.hits > first.hits


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seed": "0"}, "seed must be an int, got str"),
        ({"seed": 1.5}, "seed must be an int, got float"),
        ({"size": 10}, "size must be an int from 100"),
        ({"size": 10**7}, "size must be an int from 100"),
    ],
)
def test_bad_corpus_arguments(kwargs, message):
    with pytest.raises(CourseLibError, match=message):
        make_toy_corpus(**kwargs)


def test_smaller_corpus_keeps_the_anchors():
    small = make_toy_corpus(0, size=500)
    assert len(small.train) + len(small.valid) + len(small.test) == 500
    assert len(small.generalisation) == len(make_toy_corpus(0).generalisation) == 200
    assert {"I love pizza", "I hate pizza"} <= {e for e, _ in small.pairs}


def test_word_counts():
    assert word_counts(["I love pizza", "i HATE  pizza"]) == {
        "i": 2,
        "love": 1,
        "pizza": 2,
        "hate": 1,
    }
    assert word_counts([]) == {}
    with pytest.raises(CourseLibError, match="sentence 1 must be a str, got int"):
        word_counts(["ok", 3])


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


# --- splits by source sentence, references ---------------------------------------------------

MULTI = [
    ("Go.", "Va !"),
    ("Go.", "Marche."),
    ("Hi.", "Salut !"),
    ("Run!", "Cours !"),
    ("Go.", "Bouge !"),
    ("Run!", "Courez !"),
    ("Hi.", "Salut !"),
]


def many_pairs(n_sources: int = 400) -> list[tuple[str, str]]:
    rng = random.Random(1)
    return [
        (f"source {i}", f"cible {i}.{k}")
        for i in range(n_sources)
        for k in range(rng.randint(1, 4))
    ]


def test_split_keeps_all_translations_of_a_source_together():
    pairs = many_pairs()
    splits = split_by_source(pairs, valid_fraction=0.1, test_fraction=0.2, seed=0)
    assert len(splits.train) + len(splits.valid) + len(splits.test) == len(pairs)
    assert leaked_sources(splits.train, splits.test) == []
    assert leaked_sources(splits.train, splits.valid) == []
    assert leaked_sources(splits.valid, splits.test) == []
    assert len({e for e, _ in splits.test}) == 80 and len({e for e, _ in splits.valid}) == 40
    order = {p: i for i, p in enumerate(pairs)}
    assert [order[p] for p in splits.train] == sorted(order[p] for p in splits.train)


def test_split_is_seeded():
    pairs = many_pairs()
    assert split_by_source(pairs, seed=3) == split_by_source(pairs, seed=3)
    assert split_by_source(pairs, seed=3).test != split_by_source(pairs, seed=4).test


@needs_shared_data
def test_split_of_real_data_has_no_leak_while_a_pair_split_does():
    pairs = load_tatoeba(LARGE)
    splits = split_by_source(pairs, seed=0)
    assert leaked_sources(splits.train, splits.test) == []
    shuffled = pairs[:]
    random.Random(0).shuffle(shuffled)
    cut = len(shuffled) // 20
    assert len(leaked_sources(shuffled[cut:], shuffled[:cut])) > 100


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"valid_fraction": -0.1}, "valid_fraction must be in"),
        ({"test_fraction": 1.0}, "test_fraction must be in"),
        ({"valid_fraction": 0.6, "test_fraction": 0.5}, "must be < 1"),
    ],
)
def test_bad_split_fractions(kwargs, message):
    with pytest.raises(CourseLibError, match=message):
        split_by_source(MULTI, **kwargs)


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ("Go.\tVa !", "pairs must be a list of .* got str"),
        ([("Go.", "Va !", "extra")], "pair 0 must be"),
        ([("Go.", None)], "pair 0 must be"),
    ],
)
def test_bad_pairs_are_refused(pairs, message):
    with pytest.raises(CourseLibError, match=message):
        split_by_source(pairs)
    with pytest.raises(CourseLibError, match=message):
        group_references(pairs)


def test_group_references_keeps_order_and_drops_duplicates():
    assert group_references(MULTI) == [
        ("Go.", ["Va !", "Marche.", "Bouge !"]),
        ("Hi.", ["Salut !"]),
        ("Run!", ["Cours !", "Courez !"]),
    ]
    assert group_references([]) == []


def test_leaked_sources():
    assert leaked_sources(MULTI[:3], MULTI[3:]) == ["Go.", "Hi."]
    with pytest.raises(CourseLibError, match=r"leaked_sources \(test\): pair 0"):
        leaked_sources(MULTI, [("x",)])


# --- building single pairs with the grammar ----------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "pair"),
    [
        (("I", "love", "pizza"), {}, ("I love pizza", "J'aime la pizza")),
        (
            ("he", "eat", "bread"),
            {"negated": True},
            ("He doesn't eat bread", "Il ne mange pas de pain"),
        ),
        (
            ("I", "see", "car"),
            {"article": "the", "adjective": "red"},
            ("I see the red car", "Je vois la voiture rouge"),
        ),
        (("they (f)", "love", "cat"), {}, ("They (f) love cats", "Elles aiment les chats")),
        (("we", "buy", "apple"), {"article": "a"}, ("We buy an apple", "Nous achetons une pomme")),
        (
            ("you all", "see", "car"),
            {"article": "the", "plural": True},
            ("You all see the cars", "Vous voyez les voitures"),
        ),
    ],
)
def test_toy_pair(args, kwargs, pair):
    assert data.toy_pair(*args, **kwargs) == pair


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("I", "love", "pizza"), {"negated": True}, "never negates 'love'"),
        (("I", "drink", "car"), {}, "does not combine 'drink' with 'car'"),
        (
            ("I", "eat", "pizza"),
            {"article": "a"},
            "no object 'a pizza' after 'eat'; it builds: 'pizza'",
        ),
        (("it", "eat", "bread"), {}, "unknown subject 'it'; the grammar knows 'I'"),
        (("I", "eat", "bread"), {"article": "an"}, "article must be '', 'the' or 'a'"),
        (("I", "eat", "bread"), {"adjective": "purple"}, "unknown adjective 'purple'"),
    ],
)
def test_toy_pair_explains_what_it_cannot_build(args, kwargs, message):
    with pytest.raises(CourseLibError, match=message):
        data.toy_pair(*args, **kwargs)


def test_join_french_elides_and_contracts():
    assert (
        data.join_french(["je", "ne", "aime", "pas", "de", "la", "eau"]) == "Je n'aime pas de l'eau"
    )
    assert data.join_french(["de", "le", "pain"]) == "Du pain"
    assert data.join_french(["il", "mange", "de", "les", "pommes"]) == "Il mange des pommes"
    assert data.join_french(["le", "petit", "ordinateur"]) == "Le petit ordinateur"


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


def test_fast_generation_equals_sentence_by_sentence_construction():
    """grammar_sentences() joins subject-verb and object separately; check it against
    joining every word of the sentence at once."""
    generated = iter(grammar_sentences())
    rng = random.Random(0)
    for verb in data.VERBS:
        for noun in data.NOUNS:
            if not data._noun_fits(verb, noun):
                continue
            for phrase in data._noun_phrases(verb, noun):
                for negated in (False, True) if verb.negatable else (False,):
                    for subject in data.SUBJECTS:
                        sentence = next(generated)
                        if rng.random() < 0.05:
                            verb_words = (
                                ["ne", verb.fr[subject.person], "pas"]
                                if negated
                                else [verb.fr[subject.person]]
                                + [verb.fr_after] * bool(verb.fr_after)
                            )
                            words = [
                                subject.fr,
                                *verb_words,
                                *data._french_noun_phrase(noun, phrase, negated),
                            ]
                            assert sentence.french == data.join_french(words)
                            assert sentence.pair == data._sentence(
                                subject, verb, noun, phrase, negated
                            )
    assert next(generated, None) is None


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
