"""Courses: ordered hands-on tasks a class works through, checked from the host side."""
