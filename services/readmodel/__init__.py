"""Read models: fact tables per projection, positions, the read-model source and rebuild (issue 11)."""
