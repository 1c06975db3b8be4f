"""Loads the integration harness (tests/integration/conftest.py) under another
module name, as tests/prove/conftest.py does, for the valgrind spot checks."""
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
