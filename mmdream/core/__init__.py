"""The dream engine: the one octave gradient-ascent loop (engine) and what it maximises (objectives)."""
