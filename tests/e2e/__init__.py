"""End-to-end flows of a curator in a real browser (see conftest.py and browser.py)."""

import pytest

# The helpers' own asserts report what they compared, as the tests' do.
pytest.register_assert_rewrite("tests.e2e.browser", "tests.e2e.admin_pages")
