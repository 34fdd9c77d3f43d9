"""Courses: ordered hands-on tasks a class works through, checked from the host side.

`model.py` the course file as frozen models; `loader.py` reads a file with located
problems and `crosscheck.py` checks it against its profile (pure); `catalogue.py` the
courses of `LAB_COURSES_DIR` by name; `words.py` a check in plain words (pure).
"""
