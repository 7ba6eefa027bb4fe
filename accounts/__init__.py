"""Accounts: registration, login, lockout, tokens and profile (docs/architecture.md)."""
