"""One module per collection format; each returns the raw listing of performances."""
