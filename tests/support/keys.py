"""The journal key every test process and every sitroom child process started by tests uses."""

from __future__ import annotations

TEST_JOURNAL_KEY = "test-journal-key-0123456789abcdef0123456789abcdef"
"""HMAC key of the journal in tests (sitroom refuses short or well-known keys)."""
