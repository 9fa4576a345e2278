"""Makes the repository's packages (installer, precheck) importable from tests."""
