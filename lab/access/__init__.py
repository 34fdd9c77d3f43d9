"""Who may do what: users, roles, tokens, logins and sessions, assignments, ownership, audit."""
