"""Helpers for tests/test_app.py and tests/test_browser.py (the interactive depth app)."""
