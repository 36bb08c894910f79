"""The Faust worker: batch consumer and the shared projector step that keeps the read models (issue 11)."""
