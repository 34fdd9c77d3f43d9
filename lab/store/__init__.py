"""The state store: SQLite under LAB_HOME, its schema and records of labs, classes and resets."""
