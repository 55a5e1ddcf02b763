"""stylecat: illustration-style categorization pipeline (settings, CLI and local stack)."""
