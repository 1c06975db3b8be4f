"""The prove suite reuses the integration harness as is: this file loads
tests/integration/conftest.py (the Mailroom class and its fixtures) under
another module name, re-exports its fixtures, and puts tests/integration on
sys.path so smtp_util / pop3_util import as they do there. Nothing here
starts a daemon of its own: every test uses the same `mailroom` fixture, so
a sanitizer report in any daemon log fails the test (make test-asan)."""
import importlib.util
import pathlib
import sys

_INTEGRATION = pathlib.Path(__file__).resolve().parents[1] / "integration"
sys.path.insert(0, str(_INTEGRATION))

_spec = importlib.util.spec_from_file_location("mailroom_harness", _INTEGRATION / "conftest.py")
harness = importlib.util.module_from_spec(_spec)
sys.modules["mailroom_harness"] = harness
_spec.loader.exec_module(harness)
# pop3_util does `from conftest import BUILD, REPO`: give it the harness.
sys.modules["conftest"] = harness

from mailroom_harness import (BUILD, DOMAIN, HOSTNAME, REPO, Mailroom,  # noqa: E402,F401
                              free_port, mailroom, mailroom_uninit, wait_port)
