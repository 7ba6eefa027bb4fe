"""Every write of the disputes app: typed, keyword-only functions, one transaction each.

The API, the pages, the admin and the clock's tasks all call these; nothing else changes a
complaint. Split by subject: filing, the conversation between the parties, staff actions,
what the clock does when a deadline passes, the blacklist and the policy.
"""

from disputes.services.answer import dispute_contest
from disputes.services.auto import auto_checks_run, auto_checks_sweep, dispute_auto_decide
from disputes.services.blacklist import (
    blacklist_add,
    blacklist_if_threshold_reached,
    blacklist_lift,
)
from disputes.services.clock import (
    dispute_default_judgment,
    dispute_fast_track,
    dispute_offer_lapse,
    dispute_review_expire,
    fast_track_if_eligible,
)
from disputes.services.conversation import (
    Action,
    Remedy,
    dispute_accept_offer,
    dispute_appeal,
    dispute_message,
    dispute_reject_offer,
    dispute_respond,
    dispute_withdraw,
)
from disputes.services.evidence import EvidenceUpload, dispute_add_evidence
from disputes.services.filing import dispute_file, register_after_filing
from disputes.services.notifications import (
    notification_send,
    notifications_mark_read,
    notifications_send,
    notifications_send_pending,
)
from disputes.services.package import dispute_evidence_package
from disputes.services.policy import MIN_NOTICE, policy_publish, policy_revise
from disputes.services.rating import dispute_rate
from disputes.services.staff import (
    Bears,
    dispute_decide_recovery,
    dispute_info_lapse,
    dispute_note,
    dispute_release,
    dispute_request_info,
    dispute_rule,
    dispute_rule_propose,
    dispute_take,
    ruling_needs_approval,
)
from disputes.services.sweep import SweepReport, deadlines_sweep

__all__ = [
    "MIN_NOTICE",
    "Action",
    "Bears",
    "EvidenceUpload",
    "SweepReport",
    "Remedy",
    "auto_checks_run",
    "auto_checks_sweep",
    "blacklist_add",
    "blacklist_if_threshold_reached",
    "blacklist_lift",
    "deadlines_sweep",
    "dispute_accept_offer",
    "dispute_add_evidence",
    "dispute_appeal",
    "dispute_auto_decide",
    "dispute_contest",
    "dispute_decide_recovery",
    "dispute_default_judgment",
    "dispute_evidence_package",
    "dispute_fast_track",
    "dispute_file",
    "dispute_info_lapse",
    "dispute_message",
    "dispute_note",
    "dispute_release",
    "dispute_take",
    "dispute_offer_lapse",
    "dispute_rate",
    "dispute_reject_offer",
    "dispute_request_info",
    "dispute_respond",
    "dispute_review_expire",
    "dispute_rule",
    "dispute_rule_propose",
    "dispute_withdraw",
    "fast_track_if_eligible",
    "notification_send",
    "notifications_mark_read",
    "notifications_send",
    "notifications_send_pending",
    "policy_publish",
    "policy_revise",
    "register_after_filing",
    "ruling_needs_approval",
]
