"""Test-wide settings: never download anything (see DESIGN.md, "Offline reality")."""
import os

os.environ["FCA_OFFLINE"] = "1"
