"""Language identification: the crawler's model answers as py3langid's own does, to the bit
(the float32 table it scores with is only the float16 one widened), and the sample of plain
words read from a window holds the words a scan of the whole text finds."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from crawler.extract.page import (
    LANG_SAMPLE_CHARS,
    LANG_WINDOW_CHARS,
    _identifier,
    _words_sample,
    extract_page,
)
from heroes.lab.onion_sites import generate_sites

# Letters of several scripts, digits, punctuation and spaces: one to four UTF-8 bytes each.
ALPHABET = ("abcdefghijklmnopqrstuvwxyz ABCXYZ äöüßéèàçñø абвгдежзийклмнопрстуфхцчшщыэюя "
            "αβγδεζηθλμπσω אבגדה ابتثج 中文字日本語한국어ไทย .,;:!?'\"()-0123456789\n\t€")
REFERENCE = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def same_answer(text: str) -> None:
    assert _identifier()._decide(text).tolist() == REFERENCE._decide(text).tolist()
    assert _identifier().classify(text) == REFERENCE.classify(text)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=2500))
def test_every_text_scores_as_the_reference_model(text: str) -> None:
    same_answer(text)


def test_lab_pages_score_as_the_reference_model(tmp_path: Path) -> None:
    truth = generate_sites(tmp_path, seed=7)
    texts = [extract_page(url, (tmp_path / info["file"]).read_bytes()).text
             for url, info in truth["pages"].items()]
    texts += ["Der Versand erfolgt innerhalb von zwei Tagen nach der Bestellung.",
              "Доставка по всей стране, оплата при получении заказа в отделении."]
    assert len(texts) > 20
    for text in texts:
        same_answer(text)


PLAIN_WORD = re.compile(r"(?<!\S)([^\W\d_]{1,24})[.,;:!?'\")]*(?!\S)")


def sample_by_scan(text: str) -> tuple[str, int]:
    """The sample as a scan of every match, one at a time, makes it."""
    words: list[str] = []
    size = letters = 0
    for match in PLAIN_WORD.finditer(text):
        words.append(match.group(0))
        letters += len(match.group(1))
        size += len(match.group(0)) + 1
        if size > LANG_SAMPLE_CHARS:
            break
    return " ".join(words)[:LANG_SAMPLE_CHARS], letters


TOKENS = st.sampled_from(["shop", "Zustellung", "доставка", "订单", "ok.", "(note)", "x" * 30,
                          "abc123", "0xdeadbeef", "QmFzZTY0IGxpbmU=", "wait!", "it's", "-", ""])
SPACES = st.sampled_from([" ", "  ", "\n", "\t", "\u00a0", "\u2003"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(TOKENS, SPACES), max_size=3000), st.sampled_from([0, 1, 7]))
def test_the_window_gives_the_words_a_whole_scan_gives(pairs: list[tuple[str, str]],
                                                       pad: int) -> None:
    text = "".join(token + space for token, space in pairs) + "y" * pad
    assert _words_sample(text) == sample_by_scan(text)


def test_a_word_cut_by_the_window_is_read_whole() -> None:
    # Non-words, then words whose sample fills near the window's edge: shifted a character
    # at a time, the edge cuts the filling word, the word after it, or the space between.
    words = " ".join(f"word{'s' * (n % 5)}" for n in range(LANG_SAMPLE_CHARS // 4))
    text = "0x1 " * ((LANG_WINDOW_CHARS - LANG_SAMPLE_CHARS) // 4 - 8) + words
    for shift in range(60):
        shifted = "#" * shift + " " + text
        assert _words_sample(shifted) == sample_by_scan(shifted)
