"""Report tables built from projection states: pure functions returning `Report`s (rows + columns)."""
