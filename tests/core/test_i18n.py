"""Every user-facing message exists in Vietnamese and English with the same placeholders."""

from __future__ import annotations

import string

from canh.i18n import catalog, set_language, t


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_message_has_both_languages_with_the_same_placeholders() -> None:
    problems = []
    for key, texts in catalog().items():
        if set(texts) != {"vi", "en"}:
            problems.append(f"{key}: languages {sorted(texts)}")
        elif _fields(texts["vi"]) != _fields(texts["en"]):
            problems.append(f"{key}: placeholders differ")
    assert not problems, problems


def test_language_switch_changes_rendered_text() -> None:
    try:
        set_language("vi")
        assert t("store.not_found", kind="sự cố", id="INC-1") == "không tìm thấy sự cố 'INC-1'"
        set_language("en")
        assert t("store.not_found", kind="incident", id="INC-1") == "incident 'INC-1' not found"
    finally:
        set_language(None)
