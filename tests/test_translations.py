"""The zh-hans catalogue: complete, placeholder-safe, and what the platform speaks by default.

zh-hans is the first language (docs/style.md); English is the source language in the code.
The .mo files are not committed (.gitignore), so the module compiles the catalogues first and
the tests hold on a fresh checkout.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import override_settings

from tests.factories import UserFactory

LOCALE_DIR = Path(settings.LOCALE_PATHS[0]) / "zh_Hans" / "LC_MESSAGES"
CATALOGUES = sorted(LOCALE_DIR.glob("*.po"))

# A printf-style conversion as Python's % operator reads it: %(name)s, %(mp).1f, %d, %s, %%.
PERCENT = re.compile(
    r"%(?:\((?P<name>[^)]*)\))?[-#0 +]*(?:\d+|\*)?(?:\.(?:\d+|\*))?[diouxXeEfFgGcrsa%]"
)
BRACE = re.compile(r"(?<!\{)\{[A-Za-z_][A-Za-z0-9_]*(?:![rsa])?(?::[^{}]*)?\}(?!\})")
HTML_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
CJK = re.compile(r"[\u4e00-\u9fff]")


def _entries() -> list[tuple[str, polib.POEntry]]:
    return [(po.name, entry) for po in CATALOGUES for entry in polib.pofile(str(po))]


ENTRIES = _entries()


def _percent_placeholders(text: str) -> tuple[frozenset[str], Counter[str]]:
    """Named placeholders as a set (a translation may repeat or reorder them), positional ones
    with their count and order-free (Python fills them left to right, so a count mismatch
    raises at runtime)."""
    named: set[str] = set()
    positional: Counter[str] = Counter()
    for match in PERCENT.finditer(text):
        token = match.group(0)
        if token == "%%":
            continue
        if match.group("name") is not None:
            named.add(token)
        else:
            positional[token] += 1
    return frozenset(named), positional


def _translations(entry: polib.POEntry) -> list[str]:
    if entry.msgid_plural:
        return [entry.msgstr_plural[k] for k in sorted(entry.msgstr_plural)]
    return [entry.msgstr]


def _source(entry: polib.POEntry) -> str:
    # zh has one plural form, used for every count: it follows the plural msgid.
    return entry.msgid_plural or entry.msgid


def _msgstr(msgid: str, context: str | None = None) -> str:
    po = polib.pofile(str(LOCALE_DIR / "django.po"))
    entry = po.find(msgid, msgctxt=context) if context else po.find(msgid)
    assert entry is not None and entry.msgstr, f"{msgid!r} is not in the zh_Hans catalogue"
    return entry.msgstr


@pytest.fixture(scope="module", autouse=True)
def _compiled_catalogues() -> Iterator[None]:
    call_command("compile_translations", verbosity=0)
    # Django caches each language's catalogue for the process: a test that ran earlier, before
    # the .mo existed, would leave an empty zh-hans one behind. Changing LOCALE_PATHS (to the
    # same value) fires setting_changed, which drops those caches.
    with override_settings(LOCALE_PATHS=list(settings.LOCALE_PATHS)):
        yield


def test_the_zh_hans_catalogues_exist():
    assert {po.name for po in CATALOGUES} == {"django.po", "djangojs.po"}
    assert len([item for item in ENTRIES if item[0] == "django.po"]) > 100


def test_zh_hans_has_one_plural_form():
    for po_path in CATALOGUES:
        assert polib.pofile(str(po_path)).metadata["Plural-Forms"] == "nplurals=1; plural=0;"


def test_translations_keep_the_python_format_placeholders():
    wrong = []
    for _, entry in ENTRIES:
        source = _source(entry)
        if "python-format" not in entry.flags and not _percent_placeholders(source)[0]:
            continue  # a literal % sign ("100%") is not a placeholder unless gettext flagged it
        expected = _percent_placeholders(source)
        wrong += [
            (entry.msgid, msgstr)
            for msgstr in _translations(entry)
            if _percent_placeholders(msgstr) != expected
        ]
    assert wrong == []


def test_translations_keep_brace_placeholders_and_html_tags():
    wrong = []
    for _, entry in ENTRIES:
        source = _source(entry)
        wrong += [
            (entry.msgid, msgstr)
            for msgstr in _translations(entry)
            if set(BRACE.findall(msgstr)) != set(BRACE.findall(source))
            or Counter(HTML_TAG.findall(msgstr)) != Counter(HTML_TAG.findall(source))
        ]
    assert wrong == []


def test_placeholder_check_catches_a_dropped_or_renamed_placeholder():
    """The checks above would pass vacuously if the regex matched nothing."""
    source = _percent_placeholders("This image is %(width)d×%(height)d (%(mp).1f MP); %s")
    assert source == (frozenset({"%(width)d", "%(height)d", "%(mp).1f"}), Counter({"%s": 1}))
    assert _percent_placeholders("图片 %(width)d×%(height)d（%(mp)d）%s") != source
    assert _percent_placeholders("图片 %(height)d×%(width)d（%(mp).1f）%s 100%%") == source


@pytest.mark.parametrize("po_path", CATALOGUES, ids=lambda p: p.name)
def test_catalogue_has_no_untranslated_or_fuzzy_entries(po_path):
    po = polib.pofile(str(po_path))

    assert [e.msgid for e in po.untranslated_entries()] == []
    assert [e.msgid for e in po.fuzzy_entries()] == []
    assert not po.metadata_is_fuzzy


# Names that stay as they are in Chinese too.
SAME_IN_CHINESE = {"SHA-256"}


def test_translations_are_chinese():
    """A msgstr copied from the msgid passes the completeness check; it must not pass this."""
    latin_only = [
        entry.msgid
        for _, entry in ENTRIES
        for msgstr in _translations(entry)
        if not CJK.search(msgstr) and entry.msgid not in SAME_IN_CHINESE
    ]
    assert latin_only == []


# A half-width colon or full stop next to a Chinese character or full-width punctuation (spaces
# between allowed): Chinese writes "：" and "。". Between digits ("14:00", "¥12.50") and inside
# Latin text ("example.com") they stay half-width, and are not next to CJK.
CJK_OR_FULL_WIDTH = r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]"
HALF_WIDTH_STOP = re.compile(rf"{CJK_OR_FULL_WIDTH} *[:.]|[:.] *{CJK_OR_FULL_WIDTH}")


def test_chinese_uses_full_width_colons_and_full_stops():
    wrong = [
        (entry.msgid, msgstr)
        for _, entry in ENTRIES
        for msgstr in _translations(entry)
        if HALF_WIDTH_STOP.search(msgstr)
    ]
    assert wrong == []


def test_half_width_stop_check_catches_what_it_should_and_only_that():
    """The check above would pass vacuously if the pattern matched nothing."""
    for wrong in ("平台自动核验: %(what)s", "已退款.请查收", "状态 : 已退款", "KNOX:令牌"):
        assert HALF_WIDTH_STOP.search(wrong), wrong
    right_ones = ("核验：%(what)s", "请于 14:00 前付款。", "申请金额 ¥12.50", "见 example.com")
    for right in right_ones:
        assert not HALF_WIDTH_STOP.search(right), right


def test_contexts_keep_their_own_translation():
    assert _msgstr("Order", context="a purchase") == "订单"


def test_compile_check_accepts_the_catalogues():
    call_command("compile_translations", check=True, verbosity=0)


def test_compile_check_refuses_an_untranslated_or_fuzzy_entry(tmp_path):
    messages = tmp_path / "xx" / "LC_MESSAGES"
    messages.mkdir(parents=True)
    (messages / "django.po").write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "Done"\nmsgstr "完成"\n\n'
        'msgid "Missing"\nmsgstr ""\n\n'
        '#, fuzzy\nmsgid "Unsure"\nmsgstr "不确定"\n',
        encoding="utf-8",
    )
    with (
        override_settings(LOCALE_PATHS=[str(tmp_path)]),
        pytest.raises(CommandError) as refused,
    ):
        call_command("compile_translations", check=True, verbosity=0)
    assert "untranslated: 'Missing'" in str(refused.value)
    assert "fuzzy: 'Unsure'" in str(refused.value)
    assert "Done" not in str(refused.value)


# --- What users see ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_pages_default_to_chinese(client):
    response = client.get("/")

    text = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="zh-hans">' in text
    assert _msgstr("Catalogue") in text
    assert _msgstr("Kamen Complaints") in text
    assert "Skip to content" not in text


@pytest.mark.django_db
def test_pages_follow_accept_language_en(client):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en")

    text = response.content.decode()
    assert '<html lang="en">' in text
    assert "Skip to content" in text
    assert _msgstr("Skip to content") not in text


@pytest.mark.django_db
def test_pages_follow_the_language_cookie(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    response = client.get("/")

    text = response.content.decode()
    assert '<html lang="en">' in text
    assert "Skip to content" in text
    assert _msgstr("Skip to content") not in text


@pytest.mark.django_db
def test_api_domain_error_is_chinese_by_default(api_client):
    api_client.force_authenticate(UserFactory())

    response = api_client.post("/api/v1/orders/", {"product": 999999, "quantity": 1}, format="json")

    assert response.status_code == 404
    assert response.json() == {"detail": _msgstr("No such product."), "code": "not_found"}


@pytest.mark.django_db
def test_api_domain_error_is_english_with_accept_language_en(api_client):
    api_client.force_authenticate(UserFactory())

    response = api_client.post(
        "/api/v1/orders/",
        {"product": 999999, "quantity": 1},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 404
    assert response.json() == {"detail": "No such product.", "code": "not_found"}
