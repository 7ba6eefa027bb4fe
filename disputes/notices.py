"""What a notification says, in the reader's language.

A notification row stores what happened — its kind, the figures (`params`: the complaint and
order numbers, the amount, the first line of a message, the deadline, …) and the recipient's
side of the complaint (`role`) — never a sentence. The text is made here, with gettext, when
it is shown: on the /notifications/ page in the request's language, in an e-mail in the
platform's (settings.LANGUAGE_CODE) when it is sent. Rows written before `kind` existed carry
their text in `subject`/`body` and are shown as they are.

Several events of one complaint within one minute are one line (`Line`): on the page (grouped
by the selector, disputes.selectors.inbox_lines) and in e-mail (one mail for the rows of a
complaint waiting together, disputes.services.notifications).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from disputes.models import EvidenceKind, NotificationKind, Outcome, Role, Status
from kamen_complaints.money import format_yuan
from kamen_complaints.timefmt import shanghai

if TYPE_CHECKING:
    from disputes.models import Notification

K = NotificationKind

# Where a recipient's link goes, by their side of the complaint: the buyer's complaint page,
# the merchant dashboard's (README "Merchant dashboard"); staff get the API's detail.
LINK_URL_NAMES: dict[str, str] = {
    Role.BUYER: "disputes:complaint",
    Role.MERCHANT: "merchant:complaint",
    Role.STAFF: "api-dispute",
}

FIRST_LINE_CHARS = 80


def first_line(text: str, limit: int = FIRST_LINE_CHARS) -> str:
    """The first non-empty line of a message, cut to `limit` characters (… when cut)."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _yuan(value: Any) -> str:
    try:
        return format_yuan(Decimal(str(value)))
    except (InvalidOperation, ValueError, TypeError):
        return ""


def _label(choices: Any, value: Any) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value or "")


def _party(role: Any) -> str:
    """Who did it, as the reader calls them."""
    if role == Role.BUYER:
        return _("The buyer")
    if role == Role.MERCHANT:
        return _("The merchant")
    if role in (Role.STAFF, Role.SYSTEM):
        return _("The platform")
    return _("Someone")


# --- One event ------------------------------------------------------------------------------

Params = dict[str, Any]


def _filed(p: Params, role: str) -> str:
    if role == Role.BUYER:
        return _(
            "Your complaint was filed, claiming %(amount)s. The merchant must answer by %(due)s."
        ) % {"amount": _yuan(p.get("amount")), "due": shanghai(p.get("due"))}
    return _(
        "New complaint claiming %(amount)s. Answer by %(due)s, or the buyer wins by default."
    ) % {"amount": _yuan(p.get("amount")), "due": shanghai(p.get("due"))}


def _fast_tracked(p: Params, role: str) -> str:
    if role == Role.BUYER:
        return _("Paid at once: the platform refunds you %(amount)s (fast track).") % {
            "amount": _yuan(p.get("amount"))
        }
    return _("The platform paid the buyer %(amount)s first (fast track). Answer by %(due)s.") % {
        "amount": _yuan(p.get("amount")),
        "due": shanghai(p.get("due")),
    }


def _accepted(p: Params, role: str) -> str:
    if p.get("outcome") == Outcome.REPLACED:
        return _("The merchant accepted the complaint and replaced the card key.")
    return _("The merchant accepted the complaint: %(amount)s refunded.") % {
        "amount": _yuan(p.get("amount"))
    }


def _offer_made(p: Params, role: str) -> str:
    return _(
        "The merchant offers %(amount)s. Answer by %(due)s; if you do not, the offer is "
        "accepted for you."
    ) % {"amount": _yuan(p.get("amount")), "due": shanghai(p.get("due"))}


def _contested(p: Params, role: str) -> str:
    return _("The merchant contested the complaint. The platform decides by %(due)s.") % {
        "due": shanghai(p.get("due"))
    }


def _offer_accepted(p: Params, role: str) -> str:
    if role == Role.BUYER:
        return _("You accepted the offer of %(amount)s.") % {"amount": _yuan(p.get("amount"))}
    return _("The buyer accepted your offer of %(amount)s.") % {"amount": _yuan(p.get("amount"))}


def _offer_rejected(p: Params, role: str) -> str:
    if role == Role.BUYER:
        return _("You rejected the offer. The platform decides by %(due)s.") % {
            "due": shanghai(p.get("due"))
        }
    return _("The buyer rejected your offer of %(amount)s. The platform decides by %(due)s.") % {
        "amount": _yuan(p.get("amount")),
        "due": shanghai(p.get("due")),
    }


def _resolved_by_clock(p: Params, role: str, kind: str) -> str:
    figures = {"amount": _yuan(p.get("amount")), "paid": _yuan(p.get("paid"))}
    if kind == K.DEFAULT_JUDGMENT:
        if role == Role.BUYER:
            return (
                _("The merchant did not answer in time: you win by default, %(amount)s refunded.")
                % figures
            )
        return _("The merchant did not answer in time: the buyer won by default (%(amount)s).") % (
            figures
        )
    if kind == K.OFFER_LAPSED:
        if role == Role.BUYER:
            text = _("You did not answer the offer in time: it was accepted for you (%(amount)s).")
            return text % figures
        return _("The buyer did not answer your offer in time: it was accepted (%(amount)s).") % (
            figures
        )
    return _("The platform did not decide in time and paid the buyer %(amount)s first.") % figures


def _withdrawn(p: Params, role: str) -> str:
    if role == Role.BUYER:
        return _("You withdrew the complaint.")
    return _("The buyer withdrew the complaint.")


def _message(p: Params, role: str) -> str:
    return _("%(who)s wrote: “%(line)s”") % {"who": _party(p.get("by")), "line": p.get("line", "")}


def _evidence(p: Params, role: str) -> str:
    return _("%(who)s added evidence: %(kind)s.") % {
        "who": _party(p.get("by")),
        "kind": _label(EvidenceKind, p.get("evidence_kind")),
    }


def _appealed(p: Params, role: str) -> str:
    if p.get("by") == role:
        return _("Your appeal was received. The platform decides again by %(due)s.") % {
            "due": shanghai(p.get("due"))
        }
    return _("%(who)s appealed. The platform decides again by %(due)s.") % {
        "who": _party(p.get("by")),
        "due": shanghai(p.get("due")),
    }


def _ruled(p: Params, role: str) -> str:
    return _("The platform ruled: %(outcome)s, %(amount)s.") % {
        "outcome": _label(Outcome, p.get("outcome")),
        "amount": _yuan(p.get("amount")),
    }


def _info_requested(p: Params, role: str) -> str:
    return _("The platform asks you for information by %(due)s: “%(line)s”") % {
        "due": shanghai(p.get("due")),
        "line": p.get("line", ""),
    }


def _recovery_decided(p: Params, role: str) -> str:
    if p.get("bears") == "merchant":
        return _("The platform decided you bear the %(amount)s paid to the buyer.") % {
            "amount": _yuan(p.get("amount"))
        }
    return _("The platform decided it bears the %(amount)s paid to the buyer.") % {
        "amount": _yuan(p.get("amount"))
    }


def _reminder(p: Params, role: str, kind: str) -> str:
    figures = {
        "hours": p.get("hours", ""),
        "due": shanghai(p.get("due")),
        "amount": _yuan(p.get("amount")),
    }
    if kind == K.REMINDER_MERCHANT:
        return (
            _(
                "%(hours)s h left to answer. If you do not answer by %(due)s, the buyer wins by "
                "default and is compensated from your deposit."
            )
            % figures
        )
    if kind == K.REMINDER_BUYER:
        return (
            _(
                "%(hours)s h left to answer the offer. If you do not answer by %(due)s, the offer "
                "of %(amount)s is accepted for you."
            )
            % figures
        )
    return (
        _(
            "%(hours)s h left to decide. If no ruling is made by %(due)s, the platform pays the "
            "buyer first."
        )
        % figures
    )


def _auto_decided(p: Params, role: str) -> str:
    """平台自动核验: the platform's own check decided the complaint (disputes/services/auto.py)."""
    if p.get("outcome") == Outcome.REPLACED:
        if role == Role.BUYER:
            return _("Platform automatic check: your card key was replaced automatically.")
        return _("Platform automatic check: the buyer's card key was replaced from your stock.")
    if role == Role.BUYER:
        return _("Platform automatic check: %(amount)s refunded to you automatically.") % {
            "amount": _yuan(p.get("amount"))
        }
    return _(
        "Platform automatic check: the buyer was refunded %(amount)s automatically, recovered "
        "from your deposit. You may appeal within the appeal window."
    ) % {"amount": _yuan(p.get("amount"))}


def _payout_sent(p: Params, role: str) -> str:
    return _("%(amount)s was refunded to your original payment method on %(at)s.") % {
        "amount": _yuan(p.get("amount")),
        "at": shanghai(p.get("at")),
    }


# --- About the shop (disputes/services/shop_notices.py): no complaint, the owner reads them ---


def _suspension_reason(p: Params) -> str:
    if p.get("reason") == "deposit":
        return _("the deposit is below its minimum or the shop owes the platform money")
    if p.get("reason") == "verification_expired":
        return _("its real-name verification expired")
    if p.get("note"):
        return _("the platform suspended it: “%(note)s”") % {"note": p.get("note")}
    return _("the platform suspended it")


def _shop_suspended(p: Params, role: str) -> str:
    figures = {"shop": p.get("shop", ""), "why": _suspension_reason(p)}
    if p.get("reason") == "deposit":
        return _(
            "Your shop %(shop)s is suspended: %(why)s. Pay %(amount)s on the deposit page "
            "(you owe %(owed)s; the deposit holds %(balance)s of its %(minimum)s minimum) and it "
            "sells again at once."
        ) % {
            **figures,
            "amount": _yuan(p.get("amount")),
            "owed": _yuan(p.get("owed")),
            "balance": _yuan(p.get("balance")),
            "minimum": _yuan(p.get("minimum")),
        }
    if p.get("reason") == "verification_expired":
        return (
            _(
                "Your shop %(shop)s is suspended: %(why)s. Verify again on the verification page "
                "to sell again."
            )
            % figures
        )
    return _("Your shop %(shop)s is suspended: %(why)s.") % figures


def _shop_reinstated(p: Params, role: str) -> str:
    return _("Your shop %(shop)s sells again: the suspension is lifted.") % {
        "shop": p.get("shop", "")
    }


def _debt_recorded(p: Params, role: str) -> str:
    figures = {
        "number": p.get("complaint", ""),
        "case": p.get("case", ""),
        "amount": _yuan(p.get("amount")),
        "shop": p.get("shop", ""),
        "owed": _yuan(p.get("owed")),
    }
    if figures["case"]:  # a collective case's refunds (disputes/services/collective.py)
        return (
            _(
                "The refunds of collective case %(case)s cost %(amount)s more than your deposit "
                "could cover: your shop %(shop)s now owes the platform %(owed)s. Pay it on the "
                "deposit page."
            )
            % figures
        )
    return (
        _(
            "Complaint %(number)s cost %(amount)s more than your deposit could cover: your shop "
            "%(shop)s now owes the platform %(owed)s. Pay it on the deposit page."
        )
        % figures
    )


def _verification_expiring(p: Params, role: str) -> str:
    return _(
        "The real-name verification of your shop %(shop)s runs out on %(due)s; the shop is "
        "suspended then. Verify again on the verification page before that date."
    ) % {"shop": p.get("shop", ""), "due": shanghai(p.get("due"))}


def _withdrawal(p: Params, role: str, kind: str) -> str:
    if kind == K.WITHDRAWAL_APPROVED:
        return _(
            "Your withdrawal of %(amount)s from the deposit of %(shop)s was approved; the "
            "transfer to your bank account follows."
        ) % {"amount": _yuan(p.get("amount")), "shop": p.get("shop", "")}
    return _(
        "Your withdrawal of %(amount)s from the deposit of %(shop)s was rejected: “%(reason)s” "
        "The money stays in the deposit."
    ) % {"amount": _yuan(p.get("amount")), "shop": p.get("shop", ""), "reason": p.get("reason")}


def _daily_digest(p: Params, role: str) -> str:
    """The shop's open complaints at 10:00 (disputes/services/reminders.py): how many, and the
    one whose deadline comes first (the e-mail lists them all, `digest_lines`)."""
    count = int(p.get("count") or 0)
    first = (p.get("complaints") or [{}])[0]
    return ngettext(
        "%(count)s open complaint at %(shop)s; the first deadline: %(number)s by %(due)s.",
        "%(count)s open complaints at %(shop)s; the first deadline: %(number)s by %(due)s.",
        count,
    ) % {
        "count": count,
        "shop": p.get("shop", ""),
        "number": first.get("number", ""),
        "due": shanghai(first.get("due")),
    }


def digest_lines(p: Params) -> list[str]:
    """The digest's complaints, one line each, by deadline (the e-mail's body)."""
    items = p.get("complaints") or []
    lines = [
        _("%(number)s (order %(order)s), %(status)s, %(amount)s: by %(due)s")
        % {
            "number": item.get("number", ""),
            "order": item.get("order", ""),
            "status": _label(Status, item.get("status")),
            "amount": _yuan(item.get("amount")),
            "due": shanghai(item.get("due")),
        }
        for item in items
    ]
    more = int(p.get("count") or 0) - len(items)
    if more > 0:
        lines.append(
            ngettext(
                "and %(more)s more on the complaints page",
                "and %(more)s more on the complaints page",
                more,
            )
            % {"more": more}
        )
    return lines


def _order_message(p: Params, role: str) -> str:
    """A message on an order's buyer–shop chat (disputes/services/order_chat.py)."""
    excerpt = p.get("excerpt") or _("(an image)")
    if role == Role.BUYER:
        return _("%(shop)s answered about your order %(order)s (%(product)s): “%(excerpt)s”") % {
            "shop": p.get("shop", ""),
            "order": p.get("order", ""),
            "product": p.get("product", ""),
            "excerpt": excerpt,
        }
    return _(
        "A buyer wrote about order %(order)s (%(product)s): “%(excerpt)s” Answer in the order "
        "chat; the median time to a first answer is on your shop's public record."
    ) % {"order": p.get("order", ""), "product": p.get("product", ""), "excerpt": excerpt}


def _webhook_disabled(p: Params, role: str) -> str:
    return _(
        "Your webhook or group robot %(url)s failed for 24 hours (last error: %(error)s) and "
        "was turned off. Check it, then turn it on again on the integrations page."
    ) % {"url": p.get("url", ""), "error": p.get("error") or _("no answer")}


def _collective_opened(p: Params, role: str) -> str:
    """A collective case opened on one of the shop's imports or top-up channels."""
    figures = {
        "case": p.get("case", ""),
        "product": p.get("product", ""),
        "threshold": p.get("threshold", ""),
        "hours": p.get("window_hours", ""),
        "withdrawn": p.get("withdrawn", 0),
    }
    if p.get("case_kind") == "topup_channel":
        return (
            _(
                "Collective case %(case)s: %(threshold)s complaints about top-ups of %(product)s "
                "were upheld within %(hours)s h. The product is off sale; the platform asks the "
                "upstream about every recent top-up, refunds each one not credited and recovers it "
                "from your deposit. Answer once for the channel on the case's page."
            )
            % figures
        )
    return (
        _(
            "Collective case %(case)s: %(threshold)s complaints about keys of one import of "
            "%(product)s were upheld within %(hours)s h. Its %(withdrawn)s keys still in stock "
            "are withdrawn; the platform asks the issuer about every key it delivered, refunds "
            "each bad one and recovers it from your deposit. Name the supplier and the lot on the "
            "case's page."
        )
        % figures
    )


def _collective_finding(p: Params, role: str) -> str:
    """What a collective case found about a buyer's order, and what happens next."""
    figures = {
        "case": p.get("case", ""),
        "order": p.get("order", ""),
        "product": p.get("product", ""),
        "amount": _yuan(p.get("amount")),
    }
    finding = str(p.get("finding") or "")
    amount = Decimal(str(p.get("amount") or "0"))
    if finding in ("key_unknown", "key_redeemed_before_delivery", "topup_not_credited"):
        if amount > 0:
            return (
                _(
                    "Collective case %(case)s: the issuer says your order %(order)s (%(product)s) "
                    "was bad before it reached you. The platform refunds you %(amount)s; you need "
                    "not file a complaint."
                )
                % figures
            )
        return (
            _(
                "Collective case %(case)s: the issuer says your order %(order)s (%(product)s) was "
                "bad before it reached you. It was already refunded, so nothing more is paid."
            )
            % figures
        )
    if finding == "no_answer":
        return (
            _(
                "Collective case %(case)s: the issuer did not answer about your order %(order)s "
                "(%(product)s); the platform's staff decide. If it does not work, you can join the "
                "case from the order page."
            )
            % figures
        )
    return (
        _(
            "Collective case %(case)s: the issuer says your order %(order)s (%(product)s) is "
            "fine. If it does not work for you, join the case from the order page."
        )
        % figures
    )


# Where the owner acts on a notice about the shop (the merchant dashboard's pages).
SHOP_LINKS: dict[str, str] = {
    K.WEBHOOK_DISABLED: "merchant:integrations",
    K.DAILY_DIGEST: "merchant:complaints",
    K.SHOP_SUSPENDED: "merchant:deposit",
    K.SHOP_REINSTATED: "merchant:home",
    K.DEBT_RECORDED: "merchant:deposit",
    K.VERIFICATION_EXPIRING: "merchant:verification",
    K.WITHDRAWAL_APPROVED: "merchant:deposit",
    K.WITHDRAWAL_REJECTED: "merchant:deposit",
    K.COLLECTIVE_OPENED: "merchant:home",
}


_TEXT: dict[str, Callable[[Params, str], str]] = {
    K.FILED: _filed,
    K.FAST_TRACKED: _fast_tracked,
    K.ACCEPTED: _accepted,
    K.OFFER_MADE: _offer_made,
    K.CONTESTED: _contested,
    K.OFFER_ACCEPTED: _offer_accepted,
    K.OFFER_REJECTED: _offer_rejected,
    K.DEFAULT_JUDGMENT: lambda p, r: _resolved_by_clock(p, r, K.DEFAULT_JUDGMENT),
    K.OFFER_LAPSED: lambda p, r: _resolved_by_clock(p, r, K.OFFER_LAPSED),
    K.REVIEW_EXPIRED: lambda p, r: _resolved_by_clock(p, r, K.REVIEW_EXPIRED),
    K.WITHDRAWN: _withdrawn,
    K.MESSAGE: _message,
    K.EVIDENCE_ADDED: _evidence,
    K.APPEALED: _appealed,
    K.RULED: _ruled,
    K.INFO_REQUESTED: _info_requested,
    K.RECOVERY_DECIDED: _recovery_decided,
    K.REMINDER_MERCHANT: lambda p, r: _reminder(p, r, K.REMINDER_MERCHANT),
    K.REMINDER_BUYER: lambda p, r: _reminder(p, r, K.REMINDER_BUYER),
    K.REMINDER_REVIEW: lambda p, r: _reminder(p, r, K.REMINDER_REVIEW),
    K.PAYOUT_SENT: _payout_sent,
    K.AUTO_DECIDED: _auto_decided,
    K.SHOP_SUSPENDED: _shop_suspended,
    K.SHOP_REINSTATED: _shop_reinstated,
    K.DEBT_RECORDED: _debt_recorded,
    K.VERIFICATION_EXPIRING: _verification_expiring,
    K.WITHDRAWAL_APPROVED: lambda p, r: _withdrawal(p, r, K.WITHDRAWAL_APPROVED),
    K.WITHDRAWAL_REJECTED: lambda p, r: _withdrawal(p, r, K.WITHDRAWAL_REJECTED),
    K.WEBHOOK_DISABLED: _webhook_disabled,
    K.DAILY_DIGEST: _daily_digest,
    K.COLLECTIVE_OPENED: _collective_opened,
    K.COLLECTIVE_FINDING: _collective_finding,
    K.ORDER_MESSAGE: _order_message,
}


def role_of(note: Notification) -> str:
    """The recipient's side of the complaint (inferred for rows that did not store it)."""
    if note.role:
        return note.role
    dispute = note.dispute
    if dispute is None:  # a notice about the shop
        return Role.MERCHANT
    return Role.BUYER if note.recipient_id == dispute.buyer_id else Role.MERCHANT


def sentence(note: Notification) -> str:
    """What happened, in the active language (an old row: its stored subject)."""
    render = _TEXT.get(note.kind)
    if render is None:
        return note.subject
    return render(note.params or {}, role_of(note))


def about(note: Notification) -> str:
    """The product and the shop the complaint is about ("" for a row without a complaint);
    the inbox selector joins them."""
    dispute = note.dispute if note.dispute_id else None
    if dispute is None:
        return ""
    return f"{dispute.order.product.name} · {dispute.merchant.shop_name}"


def number_of(note: Notification) -> str:
    """The complaint's number ("" for a notice about the shop)."""
    number = (note.params or {}).get("number")
    if number or note.dispute_id is None:
        return str(number or "")
    return str(note.dispute.number if note.dispute else "")


def title(note: Notification) -> str:
    """What the notice is about: the complaint, or the shop."""
    if note.kind == K.ORDER_MESSAGE:
        return _("Order %(order)s") % {"order": (note.params or {}).get("order", "")}
    if note.dispute_id is None:
        return _("Shop %(shop)s") % {"shop": (note.params or {}).get("shop", "")}
    return _("Complaint %(number)s") % {"number": number_of(note)}


def link(note: Notification) -> str | None:
    """The page of the complaint for this reader (None: no page for their side yet); for a
    notice about the shop, the page to act on it."""
    if note.kind == K.ORDER_MESSAGE:  # the order's chat, on the reader's side
        order = str((note.params or {}).get("order") or "")
        thread = "orders:chat" if role_of(note) == Role.BUYER else "merchant:chat_thread"
        try:
            return reverse(thread, kwargs={"number": order}) if order else None
        except NoReverseMatch:
            return None
    if note.dispute_id is None:
        if note.kind == K.COLLECTIVE_FINDING:  # the buyer's order page, to join the case
            number = str((note.params or {}).get("order") or "")
            return reverse("orders:order", kwargs={"number": number}) if number else None
        shop_page = SHOP_LINKS.get(note.kind)
        if note.kind == K.SHOP_SUSPENDED:
            reason = (note.params or {}).get("reason")
            shop_page = {
                "deposit": "merchant:deposit",
                "verification_expired": "merchant:verification",
            }.get(str(reason), "merchant:home")
        return reverse(shop_page) if shop_page else None
    name = LINK_URL_NAMES.get(role_of(note))
    if name is None:
        return None
    try:
        return reverse(name, kwargs={"number": number_of(note)})
    except NoReverseMatch:
        return None


# --- Lines: the events of one complaint within a minute ---------------------------------------


@dataclass
class Line:
    """One line on the page or one e-mail: the events of one complaint within one minute,
    newest first."""

    notes: Sequence[Notification]
    unread: bool = False
    others: list[str] = field(default_factory=list)

    @property
    def latest(self) -> Notification:
        return self.notes[0]

    @property
    def number(self) -> str:
        return number_of(self.latest)

    @property
    def title(self) -> str:
        return title(self.latest)

    @property
    def created_at(self) -> datetime:
        return self.latest.created_at

    @property
    def url(self) -> str | None:
        return link(self.latest)

    @property
    def about(self) -> str:
        return about(self.latest)

    @property
    def details(self) -> str:
        """An old row's body (its own text); new rows say it all in `text`."""
        return self.latest.body if not self.latest.kind else ""

    @property
    def text(self) -> str:
        return summary(self.notes)


def summary(notes: Sequence[Notification]) -> str:
    """One sentence for several events of one complaint (newest first)."""
    latest = notes[0]
    count = len(notes)
    if count == 1:
        return sentence(latest)
    kinds = {n.kind for n in notes}
    if kinds == {K.MESSAGE}:
        return ngettext(
            "%(count)s new message; the latest: “%(line)s”",
            "%(count)s new messages; the latest: “%(line)s”",
            count,
        ) % {"count": count, "line": (latest.params or {}).get("line", "")}
    if kinds == {K.EVIDENCE_ADDED} and len({(n.params or {}).get("by") for n in notes}) == 1:
        return ngettext(
            "%(who)s added %(count)s piece of evidence.",
            "%(who)s added %(count)s pieces of evidence.",
            count,
        ) % {"who": _party((latest.params or {}).get("by")), "count": count}
    return ngettext(
        "%(sentence)s (and %(count)s more update)",
        "%(sentence)s (and %(count)s more updates)",
        count - 1,
    ) % {"sentence": sentence(latest), "count": count - 1}


def line(notes: Sequence[Notification]) -> Line:
    ordered = sorted(notes, key=lambda n: (n.created_at, n.pk), reverse=True)
    kinds = {n.kind for n in ordered}
    others = (
        [sentence(n) for n in ordered[1:]]
        if len(ordered) > 1 and not kinds <= {K.MESSAGE} and kinds != {K.EVIDENCE_ADDED}
        else []
    )
    return Line(ordered, unread=any(n.read_at is None for n in ordered), others=others)


# --- E-mail -----------------------------------------------------------------------------------


def email(notes: Sequence[Notification]) -> tuple[str, str]:
    """Subject and body of one e-mail reporting these rows (one complaint, one recipient), in
    the platform's language."""
    ordered = sorted(notes, key=lambda n: (n.created_at, n.pk), reverse=True)
    latest = ordered[0]
    if len(ordered) == 1 and not latest.kind:
        return latest.subject, latest.body  # a row written before `kind`: its own text
    with translation.override(settings.LANGUAGE_CODE):
        text = summary(ordered)
        subject = _("Complaint %(number)s (%(about)s): %(headline)s") % {
            "number": number_of(latest),
            "about": about(latest),
            "headline": text,
        }
        if latest.dispute_id is None:  # a notice about the shop
            subject = _("Shop %(shop)s: %(headline)s") % {
                "shop": (latest.params or {}).get("shop", ""),
                "headline": text,
            }
        lines: list[str] = []
        for note in ordered:
            if note.kind:
                lines.append(f"{shanghai(note.created_at.isoformat())}  {sentence(note)}")
            else:
                lines += [note.subject, note.body]
        params = latest.params or {}
        if latest.kind == K.DAILY_DIGEST:
            lines += ["", *digest_lines(params)]
        lines.append("")
        if params.get("order"):
            lines.append(
                _("Complaint: %(number)s (order %(order)s)")
                % {"number": number_of(latest), "order": params["order"]}
            )
        if params.get("status"):
            lines.append(_("Status: %(status)s") % {"status": _label(Status, params["status"])})
        if params.get("due") and latest.kind not in (K.REMINDER_BUYER, K.REMINDER_MERCHANT):
            lines.append(
                _("Next deadline: %(due)s (Asia/Shanghai)") % {"due": shanghai(params["due"])}
            )
        url = link(latest)
        if url:
            lines += ["", _("Open it: %(url)s") % {"url": settings.SITE_URL + url}]
        return str(subject)[:200], "\n".join(str(part) for part in lines).strip()
