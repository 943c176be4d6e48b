"""canh.words cuts text into the words Elasticsearch's standard analyser makes: checked against a
real node's ``_analyze`` (the SQLite store's word queries depend on it), and on its own."""

from __future__ import annotations

import json
import urllib.request
from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from canh.words import MAX_WORD, words
from tests.store.es_node import require_node

# Log text as a Vietnamese SOC sees it: ASCII, Vietnamese letters, every joining punctuation mark,
# underscores, marks and format characters, and the scripts the tokenizer treats on their own.
_ALPHABET = (
    "aAzZ09 _-./:;,'’·@\\\"=%$()[]\t\n"
    "ăâđêôơưĂÂĐÊÔƠƯáàảãạấầẩẫậắằẳẵặéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ"
    "\u0301\u0323\u00ad\u200b\u200dİΣσΑ"
    "Прмирابت٠١٢٫٬"
    "日本語ひらがなカタカナーไทย่๑한국"
    "\u2019\u2018\u2024\ufe52\uff0e\uff1a\u037e"
)
_texts = st.text(alphabet=_ALPHABET, max_size=60)


def _analyze(url: str, text: str) -> list[str]:
    body = json.dumps({"analyzer": "standard", "text": text}).encode()
    req = urllib.request.Request(f"{url}/_analyze", data=body, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return [t["token"] for t in json.load(resp)["tokens"]]


def _katakana_by_underscore(text: str) -> bool:
    # A documented approximation: "a_カ" and "カ_0" are one word for Elasticsearch, two here.
    pairs = pairwise(text)
    return any((a == "_" and b in "カタナー") or (b == "_" and a in "カタナー") for a, b in pairs)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_texts)
def test_words_are_the_standard_analysers(text: str) -> None:
    url = require_node()
    if _katakana_by_underscore(text):
        return
    assert words(text) == _analyze(url, text)


def test_log_words() -> None:
    assert words("GET /index.php?id=1 from 10.0.0.1:443 Người dùng") == [
        "get", "index.php", "id", "1", "from", "10.0.0.1", "443", "người", "dùng",
    ]  # fmt: skip
    # Letters join letters and digits join digits across ".", never a letter to a digit.
    assert words("out.7z v2.1 a.1 1,000 a:b web-01 C:\\Windows\\sys32") == [
        "out", "7z", "v2.1", "a", "1", "1,000", "a:b", "web", "01", "c", "windows", "sys32",
    ]  # fmt: skip
    assert words("___ a_b _x") == ["a_b", "_x"]
    assert words("İSTANBUL ΟΔΥΣΣΕΥΣ") == ["istanbul", "οδυσσευσ"]  # Java's lower case, not Python's


def test_long_words_are_cut_at_the_analysers_limit() -> None:
    assert words("x" * (2 * MAX_WORD + 3)) == ["x" * MAX_WORD, "x" * MAX_WORD, "xxx"]


@given(st.text(max_size=200))
def test_any_text_gives_nonempty_lowercase_words(text: str) -> None:
    for word in words(text):
        assert word and len(word) <= MAX_WORD and not word.isspace()
