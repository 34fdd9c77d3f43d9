"""A lab: one deployed profile, its plan, names, machines, keys, seeds, consoles and lifecycle."""
