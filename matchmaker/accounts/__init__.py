"""Accounts: users, roles, firm memberships, sessions, API tokens, policy and the audit log."""
