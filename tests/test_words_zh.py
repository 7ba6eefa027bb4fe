"""The Chinese words: 您 throughout, one term per thing, no English label on a Chinese page.

The terms are docs/glossary-zh.md's; the catalogue's completeness and placeholders are
tests/test_translations.py's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import translation

LOCALE_DIR = Path(settings.LOCALE_PATHS[0]) / "zh_Hans" / "LC_MESSAGES"
# Quoted text (a party's own words, a product's name) is theirs, not the platform's voice.
QUOTED = re.compile(r"“[^”]*”|「[^」]*」")


def _pairs() -> list[tuple[str, str]]:
    pairs = []
    for po_path in sorted(LOCALE_DIR.glob("*.po")):
        for entry in polib.pofile(str(po_path)):
            strings = (
                [entry.msgstr_plural[k] for k in sorted(entry.msgstr_plural)]
                if entry.msgid_plural
                else [entry.msgstr]
            )
            pairs += [(entry.msgid, msgstr) for msgstr in strings]
    return pairs


PAIRS = _pairs()


def _platform_voice(msgstr: str) -> str:
    return QUOTED.sub("", msgstr)


def test_the_catalogue_is_read():
    assert len(PAIRS) > 1000


def test_the_platform_says_nin_never_ni():
    informal = [(msgid, msgstr) for msgid, msgstr in PAIRS if "你" in _platform_voice(msgstr)]
    assert informal == []


def test_the_nin_check_ignores_quoted_words_only():
    assert "你" not in _platform_voice("买家留言：“你好，卡密无效”")
    assert "你" in _platform_voice("已为你自动补发卡密。")


CLAIMED = re.compile(r"\bclaim(ed|ing)?\b(?! threshold)|amount you claim", re.IGNORECASE)
# "claim" here is the complaint itself or the small-claim fast track, not its amount.
CLAIM_NOT_AMOUNT = re.compile(
    r"small claim|small-claim|This claim|buyer's claim|holds its claim|nothing left to claim"
    r"|Claims up to|Claim %\(threshold\)s",
    re.IGNORECASE,
)


def test_the_claimed_amount_is_shenqing_jine_everywhere():
    assert not [pair for pair in PAIRS if "索赔" in pair[1]]
    amounts = [
        (msgid, msgstr)
        for msgid, msgstr in PAIRS
        if CLAIMED.search(msgid) and not CLAIM_NOT_AMOUNT.search(msgid)
    ]
    assert len(amounts) >= 8  # the labels, the notices and the form errors
    assert [pair for pair in amounts if "申请金额" not in pair[1]] == []


def test_one_word_per_act():
    """A party declines an offer: 拒绝. Staff rule against an application, a withdrawal, a
    proposal: 驳回. A merchant contests: 异议. The merchant's offer: 协商方案."""
    offers = [pair for pair in PAIRS if re.search(r"\boffer", pair[0], re.IGNORECASE)]
    declined = [pair for pair in offers if re.search(r"reject", pair[0], re.IGNORECASE)]
    assert len(declined) >= 6
    assert [pair for pair in declined if "拒绝" not in pair[1] or "驳回" in pair[1]] == []
    assert [pair for pair in offers if "和解" in pair[1]] == []

    staff_acts = re.compile(
        r"withdrawal|application|proposal|second approval|required to re|^Refuse$|^refused$",
        re.IGNORECASE,
    )
    ruled_against = [
        pair
        for pair in PAIRS
        if re.search(r"reject|refus", pair[0], re.IGNORECASE) and staff_acts.search(pair[0])
    ]
    assert len(ruled_against) >= 8
    assert [pair for pair in ruled_against if "驳回" not in pair[1]] == []

    assert [pair for pair in PAIRS if "申辩" in pair[1] or "抗辩" in pair[1]] == []


# A ledger's or a bank's account is 账户 (保证金账户, 银行账户, the ledger's own records in
# escrow/); a person's login is 账号 (注册账号, 账号安全), docs/glossary-zh.md.
LEDGER_ACCOUNT = re.compile(r"保证金账户|银行账户|对方账户|商家账户|账户余额")


def _of_the_ledger(entry: polib.POEntry) -> bool:
    return any(path.startswith("escrow/") for path, _line in entry.occurrences)


def _login_called_zhanghu(entries: list[polib.POEntry]) -> list[tuple[str, str]]:
    return [
        (entry.msgid, entry.msgstr or entry.msgstr_plural.get(0, ""))
        for entry in entries
        if not _of_the_ledger(entry)
        and any(
            "账户" in LEDGER_ACCOUNT.sub("", msgstr)
            for msgstr in [entry.msgstr, *entry.msgstr_plural.values()]
        )
    ]


def test_a_persons_account_is_zhanghao_a_ledgers_is_zhanghu():
    entries = [e for po in sorted(LOCALE_DIR.glob("*.po")) for e in polib.pofile(str(po))]
    assert _login_called_zhanghu(entries) == []
    assert [e.msgstr for e in entries if e.msgid == "Account and security"] == ["账号与安全"]


def test_the_zhanghu_check_tells_a_login_from_a_ledger():
    login = polib.POEntry(msgid="Account and security", msgstr="账户与安全")
    login.occurrences = [("accounts/views.py", "1")]
    bank = polib.POEntry(msgid="Paid to your bank", msgstr="款项将转入您的银行账户。")
    ledger = polib.POEntry(msgid="account", msgstr="账户")
    ledger.occurrences = [("escrow/models.py", "86")]
    assert _login_called_zhanghu([login, bank, ledger]) == [("Account and security", "账户与安全")]


# --- The templates ---------------------------------------------------------------------------
# The catalogue's Chinese is checked above and in tests/test_translations.py; what a template
# puts beside a translated string is not in the catalogue. "{% translate "Outcome" %}:" reads
# "处理结果:" on a Chinese page: the colon, a bracket around a translation or a full stop after
# one belongs inside the msgid ("Outcome:"), so each language writes its own.

BASE = Path(settings.BASE_DIR)
TEMPLATE_FILES = sorted(
    path
    for root in [BASE / "templates", *BASE.glob("*/templates")]
    for path in root.rglob("*")
    if path.suffix in {".html", ".txt"}
)
CJK = r"[\u3400-\u9fff]"
_TRANSLATED = r"""\{%\s*translate\s+(?:"[^"]*"|'[^']*')[^%]*%\}|\{%\s*endblocktranslate\s*%\}"""
# A translated string, then (past closing or opening tags and spaces) a half-width mark.
MARK_AFTER = re.compile(rf"(?:{_TRANSLATED})(?:\s*</?[a-zA-Z][^>]*>)*\s*[:;,.?!()]")
# A half-width opening bracket right before a translated string.
BRACKET_BEFORE = re.compile(r"\(\s*(?:<[^>]*>\s*)*\{%\s*(?:block)?translate\b")
# Chinese written in the template itself, beside a half-width mark.
CJK_BESIDE_MARK = re.compile(rf"{CJK}[:;,.?!()]|[:;,.?!()]{CJK}")
COMMENTS = re.compile(r"\{#.*?#\}|\{%\s*comment\s*%\}.*?\{%\s*endcomment\s*%\}", re.DOTALL)


def _half_width_beside_chinese(name: str, source: str) -> list[str]:
    source = COMMENTS.sub("", source)
    found = []
    for pattern in (MARK_AFTER, BRACKET_BEFORE, CJK_BESIDE_MARK):
        for match in pattern.finditer(source):
            line = source.count("\n", 0, match.start()) + 1
            found.append(f"{name}:{line}: {match.group(0)[-60:]}")
    return found


def test_the_templates_are_read():
    names = {path.name for path in TEMPLATE_FILES}
    assert {"base.html", "case.html", "change_list.html", "_desk_evidence.html"} <= names


def test_templates_put_no_half_width_mark_beside_chinese():
    found = [
        hit
        for path in TEMPLATE_FILES
        for hit in _half_width_beside_chinese(
            str(path.relative_to(BASE)), path.read_text(encoding="utf-8")
        )
    ]
    assert found == []


@pytest.mark.parametrize(
    "source",
    [
        '<strong>{% translate "The clock" %}:</strong>',
        '{% translate "Outcome" %}: <strong>',
        "{% blocktranslate %}Generated at {{ at }}{% endblocktranslate %}.",
        '{{ score }} ({% translate "given" %})',
        "<p>已退款 (部分)</p>",
        "<span>卡密:</span>",
    ],
)
def test_the_template_check_catches_a_half_width_mark(source):
    assert _half_width_beside_chinese("t.html", source)


@pytest.mark.parametrize(
    "source",
    [
        '<strong>{% translate "The clock:" %}</strong>',
        '{% translate "Timeline" %} <small>{% translate "(Asia/Shanghai)" %}</small>',
        "{% translate 'Search' %}\">",
        "{{ day }}: {{ count }}",
        '{# 账号: a comment #}<p>{% translate "Outcome:" %} {{ x }}</p>',
    ],
)
def test_the_template_check_passes_what_each_language_writes(source):
    assert _half_width_beside_chinese("t.html", source) == []


# --- What users see ---------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def _compiled_catalogues() -> Iterator[None]:
    call_command("compile_translations", verbosity=0)
    # A fresh LOCALE_PATHS drops the catalogues Django cached before the .mo existed.
    with override_settings(LOCALE_PATHS=list(settings.LOCALE_PATHS)):
        yield


@pytest.mark.django_db
def test_the_chinese_admin_index_names_api_tokens_in_chinese(admin_user):
    staff = Client()
    staff.force_login(admin_user)

    page = staff.get("/admin/").content.decode()

    assert '<html lang="zh-hans"' in page
    assert "API 令牌" in page
    for english in ("KNOX", "Knox", "knox</", "Auth token"):
        assert english not in page


@pytest.mark.django_db
def test_the_english_admin_index_says_api_tokens(admin_user):
    staff = Client()
    staff.force_login(admin_user)

    page = staff.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "API tokens" in page
    assert "Auth token" not in page


def test_the_blacklist_calls_a_persons_login_zhanghao_and_the_ledger_keeps_zhanghu():
    from disputes.models import BlacklistEntry
    from escrow.models import Account

    with translation.override("zh-hans"):
        assert str(BlacklistEntry._meta.get_field("user").verbose_name) == "账号"
        assert str(Account._meta.verbose_name) == "账户"
