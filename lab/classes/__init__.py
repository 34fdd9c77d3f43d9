"""A class: N labs (seats) of one profile, one per trainee, reset together; its access sheet."""
