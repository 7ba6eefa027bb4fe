"""The buyer's complaint pages and the pages every user reaches from them: the complaints
and the shop record (complaints), the complaint form (filing), the review of a party's PDF
(evidence_review), and the in-app notifications (notifications). Routed by
disputes/urls.py."""
