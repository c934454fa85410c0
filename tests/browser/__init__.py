"""Helpers for tests/test_depth_app.py and tests/test_browser.py (the interactive depth app)."""
