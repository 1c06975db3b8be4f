"""Loads the integration harness (tests/integration/conftest.py: the Mailroom
class and its fixtures) under the module name mailroom_harness, for the
suites in other folders (tests/prove, tests/valgrind): their conftest.py does
`from harness_import import *`, which re-exports the fixtures to pytest. It
also puts tests/integration on sys.path so smtp_util / pop3_util import as
they do there. Nothing here starts a daemon."""
import importlib.util
import pathlib
import sys

_INTEGRATION = pathlib.Path(__file__).resolve().parent / "integration"
sys.path.insert(0, str(_INTEGRATION))

_spec = importlib.util.spec_from_file_location("mailroom_harness", _INTEGRATION / "conftest.py")
harness = importlib.util.module_from_spec(_spec)
sys.modules["mailroom_harness"] = harness
_spec.loader.exec_module(harness)
# pop3_util does `from conftest import BUILD, REPO`: give it the harness.
sys.modules["conftest"] = harness

from mailroom_harness import (BUILD, DOMAIN, HOSTNAME, REPO, Mailroom,  # noqa: E402,F401
                              free_port, mailroom, mailroom_uninit, wait_port)

__all__ = ["harness", "BUILD", "DOMAIN", "HOSTNAME", "REPO", "Mailroom", "free_port",
           "mailroom", "mailroom_uninit", "wait_port"]
