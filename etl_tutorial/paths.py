"""Where the project's own files are: every default location is inside the checkout, so the
code location works from any working directory."""

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_DIR / "data"
