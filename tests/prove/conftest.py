"""The prove suite reuses the integration harness as is: tests/harness_import.py
loads tests/integration/conftest.py (the Mailroom class and its fixtures)
under another module name and re-exports its fixtures here, and puts
tests/integration on sys.path so smtp_util / pop3_util import as they do
there. Nothing here starts a daemon of its own: every test uses the same
`mailroom` fixture, so a sanitizer report in any daemon log fails the test
(make test-asan)."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from harness_import import *  # noqa: E402,F401,F403
