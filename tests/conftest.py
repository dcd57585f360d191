import os

# Load errors in plugins fail the tests instead of being listed and skipped.
os.environ.setdefault("GBA_STRICT_PLUGINS", "1")
