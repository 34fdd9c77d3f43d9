"""Operations: long actions (up, reset, provision, ...) recorded with progress, and their runner."""
