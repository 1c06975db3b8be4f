"""The valgrind spot checks use the integration harness as the prove suite
does (tests/harness_import.py loads it and re-exports its fixtures)."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from harness_import import *  # noqa: E402,F401,F403
