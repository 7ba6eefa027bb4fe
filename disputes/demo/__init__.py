"""The demo marketplace of `manage.py seed_demo` (docs/architecture.md):

- `catalogue`: the data — accounts, shops, products, orders, sales, ratings;
- `complaints`: the complaints filed and the steps that take each to its state;
- `pictures`: the evidence files (screenshots drawn with Pillow, a hand-written PDF);
- `seeding`: the steps that make it all through the services (`seed_all`).

It lives in `disputes` because it seeds all three apps, and dependencies point one way
(disputes → escrow → orders): orders never imports escrow or disputes.
"""
