"""The merchant dashboard's pages, one module per page (merchant/urls.py routes them)."""
