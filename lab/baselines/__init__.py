"""A lab's captured clean state (baseline generations) and resets back to it, verified."""
