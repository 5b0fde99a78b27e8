"""The duty officer's console (pages under /t/{tenant}/)."""
